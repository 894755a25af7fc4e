"""Where each value of a campaign was written, in its file or in octoplan.yaml's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from octoplan.errors import Diagnostic
from octoplan.model import Campaign
from octoplan.yamlsource import Key, Loc, YamlDocument

Where = tuple[str, int | None, int | None]
AUDIENCE_KEYS = (("recipients",), ("contacts",))


@dataclass(frozen=True, slots=True)
class SourceMap:
    document: YamlDocument = field(repr=False)
    defaults: YamlDocument | None = field(default=None, repr=False)
    # Locations whose value came from octoplan.yaml's `defaults`.
    inherited: frozenset[Loc] = frozenset()
    # ("environments", NAME) when that environment's recipients and contacts replace the
    # campaign's: their values are in octoplan.yaml, under it.
    audience: tuple[str, ...] = ()

    def _source(self, loc: Loc) -> tuple[YamlDocument, Loc]:
        if self.audience and self.defaults is not None and loc[:1] in AUDIENCE_KEYS:
            return self.defaults, (*self.audience, *loc)
        if self.defaults is not None and self.inherited:
            for end in range(len(loc), 0, -1):
                if loc[:end] in self.inherited:
                    return self.defaults, ("defaults", *loc)
        return self.document, loc

    def where(self, *keys: Key) -> Where:
        doc, loc = self._source(keys)
        line, col = doc.value_pos(loc)
        return doc.path, line, col

    def key_where(self, *keys: Key) -> Where:
        doc, loc = self._source(keys)
        line, col = doc.key_pos(loc)
        return doc.path, line, col

    def declared(self, *keys: Key) -> bool:
        doc, loc = self._source(keys)
        return loc in doc.values


@dataclass(frozen=True, slots=True)
class CampaignSource:
    """A validated campaign (project defaults merged in) and where its values came from.

    `where("text")`, `where("recipients", 3)`, `where("recipients", 3, "phone_number")`,
    `where("contacts", 0)` give `(path, line, col)` of that value; a value inherited from
    `defaults` points into octoplan.yaml; a location that was not written gives its nearest
    written ancestor (the file's first line for `where()`). `key_where` gives the key's position.
    """

    campaign: Campaign
    path: str  # project-relative, posix
    positions: SourceMap = field(repr=False)

    @property
    def id(self) -> str:
        return self.campaign.id

    def where(self, *keys: Key) -> Where:
        return self.positions.where(*keys)

    def key_where(self, *keys: Key) -> Where:
        return self.positions.key_where(*keys)

    def declared(self, *keys: Key) -> bool:
        """True when the value at `keys` was written (in the file or in defaults)."""
        return self.positions.declared(*keys)

    def diagnostic(
        self, keys: Loc, message: str, hint: str | None = None, *, at_key: bool = False
    ) -> Diagnostic:
        path, line, col = self.key_where(*keys) if at_key else self.where(*keys)
        return Diagnostic(path, line, col, message, hint)
