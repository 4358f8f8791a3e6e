"""The GraphQL schema, joined from each app's part once every app has loaded.

`settings.GRAPHENE["SCHEMA"]` names it, so the endpoint (crm/edges/graph.py) serves it without
importing any app. Fields other apps add to crm's Profile are registered before the schema is built.
"""

import graphene

from crm.edges.graph import profile_extension_register
from crm.graph.mutations import Mutation as CrmMutation
from crm.graph.queries import Query as CrmQuery
from marketing.graph.profile_segments import PROFILE_SEGMENTS
from marketing.graph.queries import SegmentQuery

profile_extension_register(PROFILE_SEGMENTS)


class Query(SegmentQuery, CrmQuery):
    pass


class Mutation(CrmMutation):
    pass


schema = graphene.Schema(query=Query, mutation=Mutation)
