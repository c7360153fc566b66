"""The campaigns app's exceptions, under one root."""


class CampaignsError(Exception):
    """Root of every exception the campaigns app raises on purpose."""


class MissingVariable(CampaignsError):
    """A {{ variable }} has no value for this recipient (strict templates only)."""


class RenderBudgetExceeded(CampaignsError):
    """A render took longer, or produced more, than its budget allows (see
    campaigns.template_language.RenderBudget)."""
