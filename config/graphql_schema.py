"""The GraphQL schema, joined from each pillar's part once every pillar has loaded."""

import graphene

from crm.graph.schema import Mutation
from crm.graph.schema import Query as CrmQuery
from marketing.graph import SegmentQuery


class Query(SegmentQuery, CrmQuery):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
