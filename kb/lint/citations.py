"""Citation claims: arXiv ids, years and titles against references.bib."""

import difflib
import re





class CitationClaims:
    # -------------------------------------------------------------- citations
    def arxiv(self, a, m, mentions, ctx):
        given = m.group("id")
        src = self._source_at(a + m.start(), [(p, k) for p, k in mentions if abs(p - a - m.start()) < 200], [])
        owner = next((k for k, b in self.ix.bib.items() if b["eprint"] == given), None)
        if src is None or src not in self.ix.bib:
            return
        right = self.ix.bib[src]["eprint"]
        if not right:
            return
        if given == right:
            self.add(a + m.start(), a + m.end(), "ok", src, right, "references.bib", f"arXiv:{given} is {self._cite(src)}")
        elif owner and not self._named_by_author(a + m.start(), mentions, src):
            return  # a model-family name ("Llama") linking a sibling paper of the family
        elif owner:
            self.add(a + m.start(), a + m.end(), "misattributed", src, right, "references.bib",
                     f"arXiv:{given} is {self._cite(owner)}; {self._cite(src)} is arXiv:{right}")
        elif self._named_by_author(a + m.start(), mentions, src):
            self.add(a + m.start(), a + m.end(), "wrong", src, right, "references.bib",
                     f"arXiv:{given} is not {self._cite(src)}: arXiv:{right}")
        else:  # a model-family name ("Llama") may link any of the family's papers
            self.add(a + m.start(), a + m.end(), "unverifiable", src, right, "references.bib",
                     f"arXiv:{given} is not in references.bib; {self._cite(src)} is arXiv:{right}")

    def _named_by_author(self, pos, mentions, src) -> bool:
        near = [p for p, k in mentions if k == src and abs(p - pos) < 200]
        if not near:
            return False
        m = self.ix.name_re.match(self.doc.norm, near[-1])
        name = m.group(0) if m else ""
        surname = self.ix.catalog.sources[src].authors[0].split()[-1] if self.ix.catalog.sources[src].authors else ""
        return name in (src, surname) or name.lower() == surname.lower()

    def citations(self, a, s, nums, mentions, used):
        """'Kaplan et al. (2020)', '(Hoffmann et al., 2022)', 'Chinchilla (Kaplan et al., 2022)'."""
        cat = self.ix.catalog
        surnames = self.ix.surnames
        if surnames is None:  # first authors' surnames, once per process
            surnames = self.ix.surnames = {}
            for key, src in cat.sources.items():
                if src.authors:
                    sn = src.authors[0].split()[-1]
                    surnames[sn[:-3] if sn.endswith("-AI") else sn] = key
        for m in re.finditer(r"(?P<who>[A-Z][\w-]+)(?:\s+(?:et al\.?|and [A-Z][\w-]+|&\s*[A-Z][\w-]+))?,?\s*\(?(?P<year>(?:19|20)\d\d)[a-z]?\)?", s):
            who, year = m.group("who"), m.group("year")
            if who not in surnames:
                continue
            ystart = m.start("year")
            used.add(ystart)
            key = surnames[who]
            years = {str(cat.sources[key].year), self.ix.bib.get(key, {}).get("year", "")}
            # a model or short name right before the parenthetical, naming another paper
            pre = [(p, k) for p, k in mentions if a + m.start() - 25 <= p < a + m.start() and k != key]
            if pre and re.search(r"\(\s*$", s[max(0, pre[-1][0] - a):m.start()] + "(" if s[m.start() - 1:m.start()] == "(" else ""):
                other = pre[-1][1]
                self.add(pre[-1][0], a + m.end(), "misattributed", other, self._cite(other), "references.bib",
                         f"{s[pre[-1][0] - a:m.start()].strip(' (')} is {self._cite(other)}, not {who} et al.")
                continue
            if year in years:
                self.add(a + m.start(), a + m.end(), "ok", key, year, "references.bib", f"{who} et al. {year}")
            else:
                # is there another stored paper by that first author in that year?
                self.add(a + m.start(), a + m.end(), "wrong", key, " or ".join(sorted(y for y in years if y)), "references.bib",
                         f"{who} et al. is {' / '.join(sorted(y for y in years if y))}, not {year}")
        for (p1, k1), (p2, k2) in zip(mentions, mentions[1:]):
            gap = self.doc.norm[p1:p2]
            name = self.ix.name_re.match(gap)
            if k1 == k2 or not name:
                continue
            between = gap[name.end():]
            if re.fullmatch(r"\s*(?:\\cite[tp]?\s*|\[@|\(\s*(?:see\s+)?)", between):
                self.add(p1, p2 + 20, "misattributed", k1, self._cite(k1), "references.bib",
                         f"{name.group(0)} is {self._cite(k1)}, not {self._cite(k2)}")

    def _title_owner(self, title: str):
        """(similarity, bibkey) of the stored title closest to `title`; memoised per linter."""
        memo = self.__dict__.setdefault("_title_memo", {})
        if title not in memo:
            best, owner = 0.0, None
            for key, bib in self.ix.bib.items():
                for t in bib["titles"]:
                    sm = difflib.SequenceMatcher(None, title, t.lower())
                    if sm.real_quick_ratio() > best and sm.quick_ratio() > best:
                        r = sm.ratio()
                        if r > best:
                            best, owner = r, key
            memo[title] = (best, owner)
        return memo[title]

    def titles(self, a, b, mentions, ctx):
        raw = self.doc.raw
        ra, rb = self.doc.idx[a], self.doc.idx[min(b, len(self.doc.idx) - 1)]
        seg = raw[ra:rb]
        rx = (r'"([^"]{15,160})"|“([^”]{15,160})”|``([^\']{15,160})\'\'|\\(?:emph|textit)\{([^}]{15,160})\}'
              r'|\*([A-Z][^*]{15,160})\*|(?<!\w)_([A-Z][^_]{15,160})_(?!\w)')
        if not mentions:
            return  # a quoted title is only judged against a paper named near it
        for m in re.finditer(rx, seg):
            title = next(g for g in m.groups() if g)
            t0, t1 = ra + m.start(), ra + m.end()
            near = [(self.doc.idx[p], k) for p, k in mentions if not (t0 <= self.doc.idx[p] < t1)]
            near = [(p, k) for p, k in near if min(abs(p - t0), abs(p - t1)) < 120]
            if not near:
                continue
            best, owner = self._title_owner(title.lower().strip(" .,"))
            if best < 0.9 or owner is None:
                continue
            src = min(near, key=lambda t: min(abs(t[0] - t0), abs(t[0] - t1)))[1]
            n0 = next(j for j in range(a, b + 1) if self.doc.idx[j] >= t0)
            n1 = next((j for j in range(n0, b + 1) if self.doc.idx[j] >= t1), b)
            if src == owner:
                self.add(n0, n1, "ok", owner, self.ix.bib[owner]["titles"][0], "references.bib", f"title of {self._cite(owner)}")
            else:
                self.add(n0, n1, "misattributed", src, self.ix.bib[src]["titles"][0] if src in self.ix.bib else "",
                         "references.bib", f"\"{title}\" is the title of {self._cite(owner)}, not {self._cite(src)}")
