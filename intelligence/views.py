"""The AI builder on the segments page (SPEC 8.1): a sentence becomes a draft rule shown in
marketing's builder page; nothing is saved until the marketer presses Save there (the same save
as any edit)."""

from django.views.decorators.http import require_POST

from crm.edges.pages import club_page, domain_errors_shown
from crm.facade import Capability
from intelligence.services.segment_builder import segment_draft_from_text
from marketing.forms import nodes_from_rule
from marketing.models import SegmentKind
from marketing.views import segment_builder_page, segment_list_page


@require_POST
@club_page(Capability.MARKET)
def segment_from_text(request):
    text = request.POST.get("text", "")
    with domain_errors_shown() as refusal:
        draft = segment_draft_from_text(club=request.club, text=text)
        return segment_builder_page(
            request, None, tree=nodes_from_rule(draft.rule), kind=SegmentKind.DYNAMIC, draft=draft
        )
    return segment_list_page(request, status=refusal.status, ai_text=text, ai_error=refusal.error)
