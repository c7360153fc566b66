"""What an import did: the counts its parts add up, and the summary the caller gets back."""

from dataclasses import dataclass, field

from recipients.models import ImportRun, List


@dataclass
class ImportCounts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    subscribed: int = 0  # newly subscribed to the list by this import
    kept_unsubscribed: int = 0  # people who had left the list: not subscribed again


@dataclass(kw_only=True)
class ImportSummary(ImportCounts):
    list: List
    list_created: bool = False
    duration_seconds: float = 0.0
    import_run: ImportRun | None = field(default=None, repr=False)
    # The first few rejected rows as (line, reason), for the caller to show; all are in the report.
    first_rejections: list[tuple[int, str]] = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        return (
            f"{self.rows:,} rows: {self.created:,} created, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {self.rejected:,} rejected; "
            f"{self.subscribed:,} newly subscribed to {self.list.slug!r}"
            + (f", {self.kept_unsubscribed:,} kept unsubscribed" if self.kept_unsubscribed else "")
            + (" (list created)" if self.list_created else "")
            + f" in {self.duration_seconds:.1f} s"
        )
