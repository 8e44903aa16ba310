#!/usr/bin/env python3
"""Differential test of flowhound's Sigma engine against the independent pySigma + SQLite oracle.

    Scripts/sigma_differential.py [--flowhound PATH] [--shared DIR] [--keep-work DIR] [-v]
    Scripts/sigma_differential.py --bench [--bench-flowhound PATH] [--bench-size-mb N] [--oracle-lines N]

Differential mode (default):
  * logs: every JSON Zeek log of <shared>/corpus/zed-sample-data/zeek-json and <shared>/corpus/rita-test-data
    (JSON is decided by the first non-blank line starting with '{'; .gz is read transparently);
  * rules: every detection rule of <shared>/corpus/sigmahq-rules/{rules,rules-emerging-threats,
    rules-threat-hunting} whose logsource applies to at least one of those logs (the routing below);
  * flowhound: ONE run of the real binary over all logs with all three rule folders (so a rule routed to the wrong
    log shows up as a difference too): `scan --rules … --merge-window 0 --alert-format json <logs>`;
    evidence[].line gives the matched line, rule.id the rule;
  * oracle: ../shared/tools/sigma_oracle.py once per log file, given only the rules that apply to that log
    (the oracle has no logsource routing) and a field-name pipeline for the generic categories;
  * compare the matched line numbers per (rule, log file). Exit 1 on any difference not covered by a named
    exception (EXCEPTIONS below); exit 0 with a summary table otherwise; exit 0 with a message when <shared> is
    absent; exit 2 on setup problems (no binary, venv cannot be created, oracle crashed).

The oracle runs in a virtualenv under .venv-oracle/ (git-ignored) with pysigma==2.0.1 and
pysigma-backend-sqlite==2.1.1; it is created on first use (PyPI must be reachable then).

Correlations: SigmaHQ has no correlation rules, so the corpus exercises detection rules only. `--extra-rules`
adds rule files (e.g. correlations with their base rules) to both sides. The correlation comparison (same groups,
same first alert time, evidence within the oracle's) runs only when flowhound reports findings of a correlation
rule; until flowhound implements correlations it reports itself as not enabled.

Bench mode (--bench): 50 SigmaHQ network rules over ≥ 1 GB of Zeek JSON (conn + dns) generated under
Benchmarks/data/ (git-ignored); times flowhound on all of it and the oracle on a subset (it loads everything into
an in-memory SQLite table, which does not scale to 1 GB), extrapolating the oracle per line.
"""
from __future__ import annotations

import argparse
import gzip
import ipaddress
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv-oracle"
ORACLE_PACKAGES = ["pysigma==2.0.1", "pysigma-backend-sqlite==2.1.1"]
RULE_DIRS = ["rules", "rules-emerging-threats", "rules-threat-hunting"]


# ----------------------------------------------------------------------------------------------------------------
# Environment: the oracle's virtualenv. The whole script re-executes itself inside it (it needs PyYAML too).

def ensure_venv() -> None:
    py = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    ok = py.exists() and subprocess.run(
        [str(py), "-c", "import sigma.backends.sqlite, yaml"], capture_output=True).returncode == 0
    if not ok:
        print(f"setting up the oracle virtualenv in {VENV.relative_to(REPO)}/ ({' '.join(ORACLE_PACKAGES)})",
              file=sys.stderr)
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", *ORACLE_PACKAGES])
        if r.returncode != 0:
            print("error: pip could not install the oracle's packages", file=sys.stderr)
            sys.exit(2)
    os.execv(str(py), [str(py), str(Path(__file__).resolve()), *sys.argv[1:]])


# ----------------------------------------------------------------------------------------------------------------
# Logs

# Zeek log names the file-name rule knows (only those the routing can use matter) and RITA's same-layout names.
ZEEK_LOG_NAMES = sorted({
    "conn", "dns", "http", "ssl", "ssh", "smb_files", "smb_mapping", "dce_rpc", "kerberos", "ntlm", "rdp", "x509",
    "files", "notice", "weird", "dhcp", "software", "dpd", "ftp", "tunnel", "known_hosts", "known_services",
    "capture_loss", "stats", "conn-summary", "open_conn", "open_http", "open_ssl", "sip", "snmp", "ntp", "smtp",
}, key=len, reverse=True)
SAME_LAYOUT = {"open_conn": "conn", "open_http": "http", "open_ssl": "ssl"}


def open_text(path: Path):
    with path.open("rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="surrogateescape", newline="\n")
    return path.open("r", encoding="utf-8", errors="surrogateescape", newline="\n")


def first_line(path: Path) -> str:
    with open_text(path) as f:
        for line in f:
            if line.strip():
                return line
    return ""


def type_from_name(name: str) -> str | None:
    """A known Zeek log name at the start of the basename (or after '-', '_', '.'), followed by '.', '_' or end."""
    def at(i: int) -> str | None:
        for n in ZEEK_LOG_NAMES:
            j = i + len(n)
            if name.startswith(n, i) and (j == len(name) or name[j] in "._"):
                return n
        return None
    if t := at(0):
        return t
    for i in range(1, len(name)):
        if name[i - 1] in "-_." and (t := at(i)):
            return t
    return None


def type_from_keys(obj: dict) -> str | None:
    """Key-set guess for a JSON log without _path whose name says nothing (e.g. RITA's ORIGINALdns.log)."""
    keys = set(obj)
    if {"query", "qtype_name"} <= keys or {"query", "rcode"} <= keys:
        return "dns"
    if {"method", "uri"} <= keys or {"host", "status_code"} <= keys:
        return "http"
    if "conn_state" in keys or "history" in keys:
        return "conn"
    if {"server_name", "cipher"} & keys and "version" in keys:
        return "ssl"
    return None


@dataclass
class LogFile:
    path: Path          # the original file (flowhound reads it, .gz included)
    shown: str          # path relative to the corpus, for messages
    log_type: str       # canonical Zeek log type ("" when unknown)
    jsonl: Path | None = None  # uncompressed copy for the oracle
    ts_format: str = "iso"


def discover_logs(corpus: Path) -> list[LogFile]:
    out = []
    candidates = sorted((corpus / "zed-sample-data" / "zeek-json").glob("*")) + sorted(
        p for p in (corpus / "rita-test-data").rglob("*") if p.is_file())
    for p in candidates:
        if not p.is_file() or p.name in ("LICENSE", "README.md"):
            continue
        line = first_line(p)
        if not line.lstrip().startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        t = obj.get("_path") if isinstance(obj.get("_path"), str) else None
        t = t or type_from_name(p.name) or type_from_keys(obj) or ""
        t = SAME_LAYOUT.get(t, t)
        lf = LogFile(p, str(p.relative_to(corpus)), t)
        lf.ts_format = "unix" if isinstance(obj.get("ts"), (int, float)) else "iso"
        out.append(lf)
    return out


class Num(str):
    """A JSON number kept in its source spelling."""


def parse_event(line: str):
    try:
        obj = json.loads(line, parse_int=Num, parse_float=Num, parse_constant=Num)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def flat_event(obj: dict, prefix: str = "", out: dict | None = None) -> dict:
    out = {} if out is None else out
    for k, v in obj.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) and v:
            flat_event(v, key, out)
        else:
            out[key] = v
    return out


def read_lines(path: Path, wanted: set[int]) -> dict[int, str]:
    got = {}
    if not wanted:
        return got
    last = max(wanted)
    with open_text(path) as f:
        for n, line in enumerate(f, 1):
            if n in wanted:
                got[n] = line
            if n >= last:
                break
    return got


# ----------------------------------------------------------------------------------------------------------------
# Rules and routing

@dataclass
class Rule:
    id: str
    title: str
    file: Path
    doc: dict
    kind: str  # "detection" | "correlation"


def load_rules(paths: list[Path]) -> list[Rule]:
    import yaml
    out = []
    for base in paths:
        files = [base] if base.is_file() else sorted(
            p for p in base.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
        for f in files:
            try:
                docs = list(yaml.safe_load_all(f.read_text(encoding="utf-8")))
            except yaml.YAMLError:
                continue
            for d in docs:
                if not isinstance(d, dict):
                    continue
                kind = "correlation" if "correlation" in d else ("detection" if "detection" in d else None)
                if kind is None:
                    continue
                rid = str(d.get("id") or d.get("name") or d.get("title"))
                out.append(Rule(rid, str(d.get("title", "")), f, d, kind))
    return out


# Routing of Sigma logsources to Zeek logs. Generic categories follow pySigma's zeek_raw pipeline (sigma.md §6.5):
# firewall → conn, dns → dns, proxy and webserver → http. `product: zeek` + `service: S` → the S log.
CATEGORY_LOGS = {"firewall": {"conn"}, "dns": {"dns"}, "proxy": {"http"}, "webserver": {"http"}}


def applies(rule: Rule, log_type: str) -> bool:
    ls = rule.doc.get("logsource") or {}
    product, service, category = (str(ls[k]).lower() if ls.get(k) is not None else None
                                  for k in ("product", "service", "category"))
    if product is None and category is None:
        return False
    if product not in (None, "zeek"):
        return False
    if product is None and service is not None:
        return False
    if service is not None and service != log_type:
        return False
    if category is not None and log_type not in CATEGORY_LOGS.get(category, set()):
        return False
    return bool(log_type)


# Field names of the generic taxonomy → raw Zeek names, per log (after zeek_raw, sigma.md §6.5). Given to the oracle
# as a pySigma pipeline, so flowhound's own alias tables are checked against an independent mapping.
TAXONOMY_FIELDS = {
    "conn": {"src_ip": "id.orig_h", "src_port": "id.orig_p", "dst_ip": "id.resp_h", "dst_port": "id.resp_p",
             "network_protocol": "proto"},
    "dns": {"answer": "answers", "record_type": "qtype_name", "src_ip": "id.orig_h", "dst_ip": "id.resp_h",
            "DestinationHostname": "query"},
    "http": {"c-uri": "uri", "cs-uri": "uri", "c-uri-query": "uri", "c-uri-stem": "uri", "c-uri-extension": "uri",
             "url": "uri", "c-useragent": "user_agent", "useragent": "user_agent", "cs-host": "host", "r-dns": "host",
             "cs-method": "method", "sc-status": "status_code", "cs-bytes": "request_body_len",
             "sc-bytes": "response_body_len", "cs-cookie": "cookie", "cs-referer": "referrer",
             "cs-version": "version", "src_ip": "id.orig_h", "c-ip": "id.orig_h", "clientip": "id.orig_h",
             "dst_ip": "id.resp_h", "DestinationHostname": "host"},
}


def pipeline_yaml(log_type: str) -> str:
    mapping = TAXONOMY_FIELDS.get(log_type, {})
    lines = [f"name: flowhound differential taxonomy names for zeek {log_type or 'unknown'}", "priority: 20",
             "transformations:"]
    if mapping:
        lines += ["  - id: taxonomy_to_zeek", "    type: field_name_mapping", "    mapping:"]
        lines += [f"      {json.dumps(k)}: {json.dumps(v)}" for k, v in mapping.items()]
    else:
        lines[-1] = "transformations: []"
    return "\n".join(lines) + "\n"


def detection_items(doc: dict):
    """(field, [modifiers], [values]) of every item of a detection; field None for keywords."""
    det = doc.get("detection") or {}
    for name, body in det.items():
        if name == "condition":
            continue
        yield from _items(body)


def _items(body):
    if isinstance(body, dict):
        for key, val in body.items():
            parts = str(key).split("|")
            vals = val if isinstance(val, list) else [val]
            yield (parts[0] or None), parts[1:], vals
    elif isinstance(body, list):
        plain = [v for v in body if not isinstance(v, (dict, list))]
        if plain:
            yield None, [], plain
        for v in body:
            if isinstance(v, (dict, list)):
                yield from _items(v)
    elif body is not None:
        yield None, [], [body]


# ----------------------------------------------------------------------------------------------------------------
# Named exceptions: where the oracle is known to deviate from the Sigma spec or from a documented flowhound decision
# (sigma.md §3, §4.3). A differing line is excused only when the exception's check holds for that line's event and
# rule; a rule the oracle cannot evaluate is excused only when its error matches. Everything else fails the run.

@dataclass
class LineCtx:
    rule: Rule
    event: dict          # flattened, numbers as Num (their spelling)
    raw: str
    side: str            # "flowhound" (only flowhound matched) or "oracle"
    log_type: str


def _rule_fields(rule: Rule, log_type: str) -> list[str]:
    names = []
    for f, _, _ in detection_items(rule.doc):
        if f:
            names.append(TAXONOMY_FIELDS.get(log_type, {}).get(f, f))
    return names


def _event_values(ev: dict, name: str) -> list:
    v = ev.get(name)
    return v if isinstance(v, list) else ([] if v is None else [v])


def chk_number_spelling(c: LineCtx) -> bool:
    """A rule number equal to the event value as a number but not as text (22 vs 22.0 / 0x16-free spellings)."""
    for f, mods, vals in detection_items(c.rule.doc):
        if not f or any(m not in ("neq",) for m in mods):
            continue
        name = TAXONOMY_FIELDS.get(c.log_type, {}).get(f, f)
        for rv in vals:
            if isinstance(rv, bool) or not isinstance(rv, (int, float, str)):
                continue
            try:
                rnum = float(rv)
            except ValueError:
                continue
            for ev in _event_values(c.event, name):
                try:
                    if float(ev) == rnum and str(ev).lower() != str(rv).lower():
                        return True
                except (TypeError, ValueError):
                    pass
    return False


def chk_non_ascii_case(c: LineCtx) -> bool:
    """A non-ASCII character where the rule looks (a tested field, or anywhere for keywords)."""
    fields = _rule_fields(c.rule, c.log_type)
    has_keywords = any(f is None for f, _, _ in detection_items(c.rule.doc))
    texts = [c.raw] if has_keywords else [str(v) for n in fields for v in _event_values(c.event, n)]
    return any(any(ord(ch) > 127 for ch in t) for t in texts)


def chk_ipv6_cidr_spelling(c: LineCtx) -> bool:
    """An IPv6 |cidr test on an address not written in the compressed lowercase form pySigma expands to."""
    for f, mods, vals in detection_items(c.rule.doc):
        if not f or "cidr" not in mods or not any(":" in str(v) for v in vals):
            continue
        for ev in _event_values(c.event, TAXONOMY_FIELDS.get(c.log_type, {}).get(f, f)):
            try:
                if ":" in str(ev) and ipaddress.ip_address(str(ev)).compressed != str(ev):
                    return True
            except ValueError:
                pass
    return False


def chk_exists_on_null(c: LineCtx) -> bool:
    """|exists on a key present with a JSON null (the oracle stores null as SQL NULL = absent)."""
    for f, mods, _ in detection_items(c.rule.doc):
        if f and "exists" in mods and f in c.event and c.event[f] is None:
            return True
    return False


def chk_case_colliding_keys(c: LineCtx) -> bool:
    """Two event keys that differ only in case, one of them tested (SQLite column names ignore case)."""
    lower: dict[str, set[str]] = {}
    for k in c.event:
        lower.setdefault(k.lower(), set()).add(k)
    return any(len(lower.get(n.lower(), ())) > 1 for n in _rule_fields(c.rule, c.log_type))


def chk_bool_as_number(c: LineCtx) -> bool:
    """A boolean rule value against 0/1 in the event: the sqlite backend emits (f='true' OR f=1)."""
    if c.side != "oracle":
        return False
    for f, mods, vals in detection_items(c.rule.doc):
        if not f or mods or not any(isinstance(v, bool) for v in vals):
            continue
        if any(str(ev) in ("0", "1") for ev in _event_values(c.event, TAXONOMY_FIELDS.get(c.log_type, {}).get(f, f))):
            return True
    return False


@dataclass
class Exception_:
    name: str
    source: str
    reason: str
    check: Callable[[LineCtx], bool] | None = None   # line-level
    oracle_error: tuple[str, ...] = ()                # rule-level: substrings of the oracle's error message
    used: int = 0


EXCEPTIONS = [
    Exception_("number_spelling", "sigma.md §3.5, §4.3",
               "flowhound compares numbers numerically (`22` == `\"22\"` == `22.0`); the oracle compares the JSON "
               "spelling as text, so 22.0 != 22", chk_number_spelling),
    Exception_("ascii_case_folding", "sigma.md §3.2, §4.3",
               "SQLite NOCASE/LIKE fold ASCII only; flowhound's case-insensitive default also folds non-ASCII "
               "letters", chk_non_ascii_case),
    Exception_("ipv6_cidr_spelling", "sigma.md §4.3",
               "pySigma turns |cidr into LIKE prefixes of the compressed lowercase IPv6 spelling; flowhound "
               "parses the address", chk_ipv6_cidr_spelling),
    Exception_("exists_on_null", "sigma.md §3.7, §7 #19",
               "the spec says |exists: true holds for a key present with null; SQL cannot tell null from absent",
               chk_exists_on_null),
    Exception_("case_colliding_keys", "sigma.md §4.3, §3.10",
               "SQLite column names are case-insensitive, so keys differing only in case share one column; "
               "flowhound's field names are case-sensitive", chk_case_colliding_keys),
    Exception_("bool_as_number", "sigma.md §3.6, §4.1",
               "the sqlite backend also matches a boolean rule value against 0/1; flowhound matches true/false "
               "(JSON or text) only", chk_bool_as_number),
    Exception_("oracle_rejects_regex", "sigma.md §1.3 (re), §3.3",
               "pySigma validates |re with RE2 (no lookarounds or back-references); flowhound uses PCRE2 and "
               "accepts them, so the rule has no oracle result to compare",
               oracle_error=("SigmaRegularExpressionError", "Regular expression", "regular expression")),
    Exception_("oracle_rejects_utf16le", "sigma.md §1.3, §7 #17",
               "`utf16le` is not a pySigma modifier (only wide/utf16/utf16be); flowhound accepts it as the spec "
               "lists it", oracle_error=("utf16le",)),
]


# ----------------------------------------------------------------------------------------------------------------
# Running the two sides

def run_flowhound(binary: Path, rule_paths: list[Path], logs: list[LogFile], verbose: bool):
    cmd = [str(binary), "scan"]
    for r in rule_paths:
        cmd += ["--rules", str(r)]
    cmd += ["--merge-window", "0", "--alert-format", "json", "--quiet", *[str(l.path) for l in logs]]
    if verbose:
        print("+", " ".join(cmd), file=sys.stderr)
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    if p.returncode not in (0, 1, 2):
        print(f"error: flowhound exited with {p.returncode}\n{p.stderr[-4000:]}", file=sys.stderr)
        sys.exit(2)
    problems = [l for l in p.stderr.splitlines() if "error[" in l]
    findings = []
    for line in p.stdout.splitlines():
        if line.strip():
            findings.append(json.loads(line))
    return findings, problems, p.returncode, elapsed


def run_oracle(oracle: Path, rules_dir: Path, log: LogFile, pipeline: Path, verbose: bool,
               events: Path | None = None):
    cmd = [sys.executable, str(oracle), str(rules_dir), str(events or log.jsonl), "--jsonl",
           "--timestamp-field", "ts", "--timestamp-format", log.ts_format, "--pipeline", str(pipeline)]
    if verbose:
        print("+", " ".join(cmd), file=sys.stderr)
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    if p.returncode != 0:
        print(f"error: the oracle failed on {log.shown} (exit {p.returncode})\n{p.stderr[-4000:]}", file=sys.stderr)
        sys.exit(2)
    results, errors = {}, {}
    for line in p.stdout.splitlines():
        item = json.loads(line)
        if "error" in item:
            e = item["error"]
            errors[str(e.get("rule"))] = e.get("error", "")
        else:
            results[str(item["rule"])] = item
    return results, errors, elapsed


def decompress(log: LogFile, work: Path) -> None:
    dst = work / "events" / (log.shown.replace("/", "__") + ".jsonl")
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open_text(log.path) as src, dst.open("w", encoding="utf-8", errors="surrogateescape", newline="\n") as out:
        shutil.copyfileobj(src, out)
    log.jsonl = dst


def copy_rules(rules: list[Rule], dst: Path, roots: list[Path]) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for r in {r.file for r in rules}:
        rel = next((r.relative_to(root) for root in roots if root in r.parents), Path(r.name))
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(r, target)



# ----------------------------------------------------------------------------------------------------------------
# Probe events: the corpus logs hit only a few rules, so (unless --no-probes) each applicable rule also gets
# synthetic events built from its own values: every selection satisfied on its own and all of them at once, with
# the case flipped, with wildcards filled in, on array fields as one element among others. Both sides see the same
# file; which events a rule matches is not predicted here, only compared.

def sigma_literal(value: str, fill: str) -> str:
    """A concrete string matching a Sigma wildcard value: escapes resolved (\\* \\? \\\\), '*' → fill, '?' → 'q'."""
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out.append(value[i + 1])
            i += 2
            continue
        out.append(fill if ch == "*" else ("q" if ch == "?" else ch))
        i += 1
    return "".join(out)


def probe_value(mods: list[str], v, flip: bool):
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float)):
        return float(v) if flip else v  # 53 and 53.0: equal numbers, different spellings
    text = sigma_literal(str(v), "Ab1")
    if "re" in mods or "cidr" in mods or "exists" in mods or any(m in mods for m in ("gt", "gte", "lt", "lte")):
        return None  # no literal to derive
    if "contains" in mods:
        text = "pre." + text + ".post"
    elif "startswith" in mods:
        text = text + ".post"
    elif "endswith" in mods:
        text = "pre." + text
    return text.swapcase() if flip else text


def selection_maps(body) -> list[dict]:
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list):
        return [m for m in body if isinstance(m, dict)]
    return []


def make_probes(rules: list[Rule], templates: dict[str, dict], work: Path) -> list[LogFile]:
    by_type: dict[str, list[str]] = {}
    for r in rules:
        types = [t for t in list(templates) if applies(r, t)]
        for t in types:
            tmpl = templates[t]
            mapping = TAXONOMY_FIELDS.get(t, {})
            det = r.doc.get("detection") or {}
            sels = {k: v for k, v in det.items() if k != "condition"}
            maps_per_sel = {k: selection_maps(v) for k, v in sels.items()}
            variants: list[dict] = []

            def apply(ev: dict, m: dict, flip: bool, pick: int) -> None:
                for key, val in m.items():
                    parts = str(key).split("|")
                    f, mods = parts[0], parts[1:]
                    name = mapping.get(f, f)
                    vals = val if isinstance(val, list) else [val]
                    if not vals:
                        continue
                    if "all" in mods:
                        pv = [probe_value([x for x in mods if x != "all"], x, flip) for x in vals]
                        if any(x is None for x in pv):
                            continue
                        got = "_".join(str(x) for x in pv)
                    else:
                        got = probe_value(mods, vals[pick % len(vals)], flip)
                        if got is None:
                            continue
                    if isinstance(ev.get(name), list):
                        ev[name] = ["other.example", got]
                    else:
                        ev[name] = got
            for pick in (0, 1, 2):
                for flip in (False, True):
                    for sname, maps in maps_per_sel.items():
                        for m in maps:
                            ev = dict(tmpl)
                            apply(ev, m, flip, pick)
                            variants.append(ev)
                    ev = dict(tmpl)
                    for sname, maps in maps_per_sel.items():
                        for m in maps[:1]:
                            apply(ev, m, flip, pick)
                    variants.append(ev)
                    ev = dict(tmpl)  # every selection except filters/exclusions
                    for sname, maps in maps_per_sel.items():
                        if not sname.startswith(("filter", "exclude", "_")):
                            for m in maps[:1]:
                                apply(ev, m, flip, pick)
                    variants.append(ev)
            seen = set()
            lines = by_type.setdefault(t, [])
            for ev in variants:
                line = json.dumps(ev, separators=(",", ":"), ensure_ascii=False)
                if line not in seen:
                    seen.add(line)
                    lines.append(line)
    out = []
    for t, lines in sorted(by_type.items()):
        p = work / "probes" / f"probe-{t}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        lf = LogFile(p, f"probes/probe-{t}.json", t, ts_format="iso" if isinstance(templates[t].get("ts"), str) else "unix")
        out.append(lf)
    return out


def probe_templates(logs: list[LogFile], rules: list[Rule]) -> dict[str, dict]:
    """One real event per log type (from the corpus), or a minimal one for types the corpus lacks."""
    t: dict[str, dict] = {}
    for log in logs:
        if log.log_type and log.log_type not in t:
            obj = json.loads(first_line(log.path))
            obj["_path"] = log.log_type
            t[log.log_type] = obj
    wanted = set()
    for r in rules:
        ls = r.doc.get("logsource") or {}
        if str(ls.get("product", "")).lower() == "zeek" and ls.get("service"):
            wanted.add(str(ls["service"]).lower())
        for cat, types in CATEGORY_LOGS.items():
            if str(ls.get("category", "")).lower() == cat and not ls.get("product"):
                wanted |= types
    for w in sorted(wanted - set(t)):
        t[w] = {"_path": w, "ts": "2024-01-01T00:00:00.000000Z", "uid": "CProbe000000000001",
                "id.orig_h": "10.0.0.1", "id.orig_p": 40000, "id.resp_h": "10.0.0.2", "id.resp_p": 443}
    return t


# ----------------------------------------------------------------------------------------------------------------
# Differential

def fmt_lines(lines: list[int], limit: int = 25) -> str:
    s = ", ".join(map(str, lines[:limit]))
    return s + (f", … ({len(lines)} in all)" if len(lines) > limit else "")


def differential(args) -> int:
    shared = args.shared
    corpus = shared / "corpus"
    oracle = shared / "tools" / "sigma_oracle.py"
    needed = [corpus / "sigmahq-rules", corpus / "zed-sample-data" / "zeek-json", corpus / "rita-test-data", oracle]
    if not all(p.exists() for p in needed):
        print(f"sigma_differential: skipped: {shared} (corpus and oracle) is not available")
        return 0
    binary = args.flowhound
    if not binary.exists():
        print(f"error: no flowhound binary at {binary} (build it, or pass --flowhound)", file=sys.stderr)
        return 2

    rule_roots = [corpus / "sigmahq-rules" / d for d in RULE_DIRS]
    extra = [Path(p).resolve() for p in args.extra_rules]
    all_rules = load_rules(rule_roots + extra)
    by_id = {r.id: r for r in all_rules}
    logs = discover_logs(corpus)
    log_types = sorted({l.log_type for l in logs if l.log_type})
    detection = [r for r in all_rules if r.kind == "detection"]
    selected = [r for r in detection if any(applies(r, t) for t in log_types)]
    correlations = [r for r in all_rules if r.kind == "correlation"]

    work = Path(args.keep_work) if args.keep_work else Path(tempfile.mkdtemp(prefix="flowhound-diff-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if not args.no_probes:
            detection_all = [r for r in all_rules if r.kind == "detection"]
            probes = make_probes(detection_all, probe_templates(logs, detection_all), work)
            logs += probes
            log_types = sorted({l.log_type for l in logs if l.log_type})
            selected = [r for r in detection if any(applies(r, t) for t in log_types)]
        print(f"flowhound: {binary}")
        print(f"rules: {len(all_rules)} documents read, {len(selected)} detection rules apply to the Zeek JSON logs "
              f"({', '.join(log_types)}); {len(correlations)} correlation rules")
        n_probe = sum(1 for l in logs if l.shown.startswith("probes/"))
        print(f"logs: {len(logs) - n_probe} JSON files of the corpus" + (f" + {n_probe} probe files" if n_probe else ""))

        findings, problems, rc, fh_time = run_flowhound(binary, rule_roots + extra, logs, args.verbose)
        if rc == 2:
            print(f"note: flowhound reported {len(problems)} problems (exit 2); rules it rejected show up below as "
                  f"oracle-only differences")
            for p in problems[:20]:
                print("  " + p)
        # (rule id, log path) -> lines, for detection findings; correlation findings are kept apart
        fh: dict[tuple[str, str], set[int]] = {}
        fh_corr: list[dict] = []
        corr_ids = {r.id for r in correlations}
        for f in findings:
            rid = f["rule"]["id"]
            if rid in corr_ids or "correlation" in f.get("flowhound", {}):
                fh_corr.append(f)
                continue
            for e in f.get("flowhound", {}).get("evidence", []):
                fh.setdefault((rid, e["file"]), set()).add(int(e["line"]))

        orc: dict[tuple[str, str], set[int]] = {}
        orc_errors: dict[tuple[str, str], str] = {}
        orc_corr: dict[str, dict[str, dict]] = {}
        orc_time = 0.0
        rules_by_log: dict[str, list[Rule]] = {}
        for log in logs:
            applicable = [r for r in selected if applies(r, log.log_type)]
            rules_by_log[str(log.path)] = applicable
            if not applicable:
                continue
            decompress(log, work)
            rdir = work / "rules" / (log.log_type or "unknown")
            if not rdir.exists():
                files = applicable + [c for c in correlations if c.file in {r.file for r in applicable}]
                copy_rules(files, rdir, rule_roots + [p if p.is_dir() else p.parent for p in extra])
            pipe = work / f"pipeline-{log.log_type}.yml"
            pipe.write_text(pipeline_yaml(log.log_type), encoding="utf-8")
            results, errors, t = run_oracle(oracle, rdir, log, pipe, args.verbose)
            orc_time += t
            for rid, item in results.items():
                if item.get("kind") == "correlation":
                    orc_corr.setdefault(rid, {})[str(log.path)] = item
                else:
                    orc[(rid, str(log.path))] = set(item.get("lines", []))
            for rid, err in errors.items():
                orc_errors[(rid, str(log.path))] = err

        # compare
        differences, excused_lines, excused_rules = [], 0, []
        compared_pairs = 0
        matched_rules, total_fh, total_orc = set(), 0, 0
        keys = set(fh) | set(orc) | set(orc_errors)
        for log in logs:
            for r in rules_by_log.get(str(log.path), []):
                keys.add((r.id, str(log.path)))
        log_by_path = {str(l.path): l for l in logs}
        for rid, path in sorted(keys):
            log = log_by_path.get(path)
            rule = by_id.get(rid)
            shown = log.shown if log else path
            a, b = fh.get((rid, path), set()), orc.get((rid, path), set())
            if (rid, path) in orc_errors:
                err = orc_errors[(rid, path)]
                ex = next((x for x in EXCEPTIONS if x.oracle_error and any(s in err for s in x.oracle_error)), None)
                if ex:
                    ex.used += 1
                    excused_rules.append((rid, shown, ex.name, len(a)))
                else:
                    differences.append((rid, rule.title if rule else "?", shown, sorted(a), [],
                                        f"the oracle could not evaluate the rule: {err}"))
                continue
            routed = rule is not None and log is not None and applies(rule, log.log_type)
            if not routed:
                if a:
                    differences.append((rid, rule.title if rule else "?", shown, sorted(a), [],
                                        f"flowhound ran the rule on a '{log.log_type if log else '?'}' log, which "
                                        f"its logsource does not cover"))
                continue
            compared_pairs += 1
            total_fh += len(a)
            total_orc += len(b)
            if a or b:
                matched_rules.add(rid)
            only_fh, only_orc = sorted(a - b), sorted(b - a)
            if not only_fh and not only_orc:
                continue
            raws = read_lines(log.path, set(only_fh) | set(only_orc))
            left_fh, left_orc = [], []
            for side, lines, left in (("flowhound", only_fh, left_fh), ("oracle", only_orc, left_orc)):
                for n in lines:
                    raw = raws.get(n, "")
                    obj = parse_event(raw)
                    ctx = LineCtx(rule, flat_event(obj) if obj else {}, raw, side, log.log_type)
                    ex = next((x for x in EXCEPTIONS if x.check and x.check(ctx)), None)
                    if ex:
                        ex.used += 1
                        excused_lines += 1
                    else:
                        left.append(n)
            if left_fh or left_orc:
                differences.append((rid, rule.title, shown, left_fh, left_orc, ""))

        # correlations
        corr_report = compare_correlations(fh_corr, orc_corr, by_id, log_by_path)

        # report
        print()
        print("| measure | value |")
        print("|---|---:|")
        print(f"| rules compared | {len({r.id for r in selected})} |")
        print(f"| (rule, log file) pairs compared | {compared_pairs} |")
        print(f"| rules with ≥ 1 match (either side) | {len(matched_rules)} |")
        print(f"| matched lines, flowhound | {total_fh} |")
        print(f"| matched lines, oracle | {total_orc} |")
        print(f"| differing lines excused by a named exception | {excused_lines} |")
        print(f"| rules the oracle cannot evaluate (excused) | {len(excused_rules)} |")
        print(f"| differences | {len(differences)} |")
        print(f"| time flowhound / oracle (s) | {fh_time:.1f} / {orc_time:.1f} |")
        if args.verbose or matched_rules:
            print()
            print("matches per rule (flowhound/oracle):")
            per_rule: dict[str, list[int]] = {}
            for (rid, path) in keys:
                if rid in matched_rules:
                    c = per_rule.setdefault(rid, [0, 0])
                    c[0] += len(fh.get((rid, path), ()))
                    c[1] += len(orc.get((rid, path), ()))
            for rid, (x, y) in sorted(per_rule.items(), key=lambda kv: by_id[kv[0]].title if kv[0] in by_id else ""):
                print(f"  {x:6d} / {y:6d}  {rid}  {by_id[rid].title if rid in by_id else ''}")
        used = [x for x in EXCEPTIONS if x.used]
        if used:
            print()
            print("named exceptions applied:")
            for x in used:
                print(f"  {x.name} ({x.source}): {x.used}x — {x.reason}")
            for rid, shown, name, n in excused_rules:
                print(f"  not compared: {rid} {by_id[rid].title if rid in by_id else ''} on {shown} [{name}] "
                      f"(flowhound: {n} lines)")
        print()
        print(corr_report[1])
        if differences or corr_report[0]:
            print()
            for rid, title, shown, a, b, note in differences:
                print(f"DIFFERENCE rule {rid} \"{title}\" on {shown}" + (f": {note}" if note else ""))
                if a:
                    print(f"    only in flowhound ({len(a)}): {fmt_lines(a)}")
                if b:
                    print(f"    only in the oracle ({len(b)}): {fmt_lines(b)}")
            print(f"\nFAIL: {len(differences) + corr_report[0]} differences")
            return 1
        print("OK: flowhound and the oracle agree on every compared (rule, log file) pair")
        return 0
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)


def compare_correlations(fh_corr: list[dict], orc_corr: dict, by_id: dict, log_by_path: dict) -> tuple[int, str]:
    """Correlation findings: per rule, the same set of groups, the same first alert time per group (the oracle's
    earliest window_end), and flowhound's evidence within the oracle's lines for that group. Enabled only once
    flowhound reports correlation findings."""
    if not fh_corr:
        n = sum(len(v) for v in orc_corr.values())
        return 0, (f"correlations: comparison not enabled (flowhound reported no correlation findings; the oracle "
                   f"evaluated {n} (correlation, log) pairs)")
    from datetime import datetime

    def ts(s: str) -> float:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

    def gkey(values) -> tuple:
        return tuple(sorted(str(v).lower() for v in values))

    problems, lines = 0, ["correlations:"]
    fh_by: dict[tuple[str, str], dict[tuple, dict]] = {}
    for f in fh_corr:
        fhd = f.get("flowhound", {})
        ev = fhd.get("evidence", [])
        path = ev[0]["file"] if ev else ""
        g = fh_by.setdefault((f["rule"]["id"], path), {}).setdefault(
            gkey(fhd.get("group", {}).values()), {"first": None, "lines": set()})
        t = ts(f.get("event", {}).get("end") or f["@timestamp"])
        g["first"] = t if g["first"] is None else min(g["first"], t)
        g["lines"].update(int(e["line"]) for e in ev)
    pairs = set(fh_by) | {(rid, p) for rid, per in orc_corr.items() for p in per}
    for rid, path in sorted(pairs):
        title = by_id[rid].title if rid in by_id else ""
        shown = log_by_path[path].shown if path in log_by_path else path
        ours = fh_by.get((rid, path), {})
        theirs: dict[tuple, dict] = {}
        for a in orc_corr.get(rid, {}).get(path, {}).get("alerts", []):
            g = theirs.setdefault(gkey(a["group"].values()), {"first": None, "lines": set()})
            g["first"] = a["window_end"] if g["first"] is None else min(g["first"], a["window_end"])
            g["lines"].update(a["lines"])
        issues = []
        if set(ours) != set(theirs):
            issues.append(f"groups only in flowhound {sorted(set(ours) - set(theirs))}, "
                          f"only in the oracle {sorted(set(theirs) - set(ours))}")
        for g in set(ours) & set(theirs):
            if abs(ours[g]["first"] - theirs[g]["first"]) > 0.001:
                issues.append(f"group {g}: first alert {ours[g]['first']} vs oracle {theirs[g]['first']}")
            extra = ours[g]["lines"] - theirs[g]["lines"]
            if extra:
                issues.append(f"group {g}: evidence lines not in the oracle's {fmt_lines(sorted(extra))}")
        if issues:
            problems += 1
            lines.append(f"DIFFERENCE correlation {rid} \"{title}\" on {shown}: " + "; ".join(issues))
        else:
            lines.append(f"  same: {rid} \"{title}\" on {shown} ({len(ours)} groups)")
    return problems, "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# Bench

def bench(args) -> int:
    shared = args.shared
    corpus = shared / "corpus"
    oracle = shared / "tools" / "sigma_oracle.py"
    gen_src = shared / "tools" / "gen_conn.c"
    if not (corpus.exists() and oracle.exists()):
        print(f"sigma_differential --bench: skipped: {shared} is not available")
        return 0
    binary = args.bench_flowhound
    if not binary.exists():
        print(f"error: no flowhound binary at {binary} (swift build -c release, or pass --bench-flowhound)",
              file=sys.stderr)
        return 2
    data = REPO / "Benchmarks" / "data"
    data.mkdir(parents=True, exist_ok=True)
    conn_path = data / f"sigma-bench-{args.bench_size_mb}mb-conn.json"
    dns_path = data / f"sigma-bench-{args.bench_size_mb}mb-dns.json"
    make_bench_data(conn_path, dns_path, args.bench_size_mb, data, gen_src, corpus)
    inputs = [conn_path, dns_path]
    total_bytes = sum(p.stat().st_size for p in inputs)
    total_lines = {p: count_lines(p) for p in inputs}

    # 50 SigmaHQ network rules: every rule that applies to Zeek logs, then rules/network in name order.
    rule_roots = [corpus / "sigmahq-rules" / d for d in RULE_DIRS]
    rules = load_rules(rule_roots)
    zeek_types = ["conn", "dns", "http", "dce_rpc", "smb_files", "kerberos", "rdp", "x509"]
    chosen = [r for r in rules if r.kind == "detection" and any(applies(r, t) for t in zeek_types)]
    network = [r for r in rules if r.kind == "detection" and "/rules/network/" in str(r.file) and r not in chosen]
    chosen = (chosen + sorted(network, key=lambda r: str(r.file)))[:50]
    work = Path(tempfile.mkdtemp(prefix="flowhound-bench-"))
    try:
        rdir = work / "rules"
        copy_rules(chosen, rdir, rule_roots)
        n_conn = sum(applies(r, "conn") for r in chosen)
        n_dns = sum(applies(r, "dns") for r in chosen)
        print(f"bench: {len(chosen)} SigmaHQ rules ({n_conn} apply to conn, {n_dns} to dns); input "
              f"{total_bytes / 1e9:.2f} GB, {sum(total_lines.values()):,} lines "
              f"({', '.join(f'{p.name}: {n:,}' for p, n in total_lines.items())})")

        # flowhound: the whole input, one run, best of N
        cmd = [str(binary), "scan", "--rules", str(rdir), "--merge-window", "0", "--alert-format", "json",
               "--output", "/dev/null", "--quiet", *map(str, inputs)]
        print("flowhound command: " + " ".join(cmd))
        times = []
        for i in range(args.rounds):
            for p in inputs:  # keep the input in the page cache: the measurement is about CPU
                subprocess.run(["cat", str(p)], stdout=subprocess.DEVNULL)
            t0 = time.monotonic()
            r = subprocess.run(cmd, capture_output=True, text=True)
            times.append(time.monotonic() - t0)
            if r.returncode not in (0, 1):
                print(f"error: flowhound exited with {r.returncode}: {r.stderr[-2000:]}", file=sys.stderr)
                return 2
        fh_t = sorted(times)[len(times) // 2]
        fh_rate = sum(total_lines.values()) / fh_t

        # oracle: a subset of each file, the rules that apply to it, extrapolated per line
        orc_t, orc_lines = 0.0, 0
        for p in inputs:
            log_type = "conn" if "conn" in p.name else "dns"
            sub = work / f"subset-{log_type}.jsonl"
            share = round(args.oracle_lines * total_lines[p] / sum(total_lines.values()))
            with p.open("rb") as src, sub.open("wb") as out:
                for i, line in enumerate(src):
                    if i >= share:
                        break
                    out.write(line)
            applicable = [r for r in chosen if applies(r, log_type)]
            odir = work / f"orules-{log_type}"
            copy_rules(applicable, odir, rule_roots)
            pipe = work / f"pipeline-{log_type}.yml"
            pipe.write_text(pipeline_yaml(log_type), encoding="utf-8")
            lf = LogFile(p, p.name, log_type, sub, "unix" if log_type == "conn" else "iso")
            print(f"oracle command: {sys.executable} {oracle} {odir} {sub} --jsonl --pipeline {pipe}")
            _, _, t = run_oracle(oracle, odir, lf, pipe, False)
            orc_t += t
            orc_lines += share
        orc_rate = orc_lines / orc_t
        full_orc = sum(total_lines.values()) / orc_rate
        print()
        print("| engine | input measured | lines | seconds | lines/s |")
        print("|---|---|---:|---:|---:|")
        print(f"| flowhound ({binary}) | all ({total_bytes / 1e9:.2f} GB), median of {args.rounds} | "
              f"{sum(total_lines.values()):,} | {fh_t:.1f} | {fh_rate:,.0f} |")
        print(f"| oracle (pySigma + SQLite) | subset: first {orc_lines:,} lines | {orc_lines:,} | {orc_t:.1f} | "
              f"{orc_rate:,.0f} |")
        print()
        print(f"ratio flowhound / oracle: {fh_rate / orc_rate:,.0f}x lines/s")
        print(f"NOTE: the oracle was measured on a {orc_lines:,}-line subset (it loads every event into an in-memory "
              f"SQLite table, so the full {total_bytes / 1e9:.2f} GB does not fit in reasonable time or memory); "
              f"extrapolated linearly per line it would need about {full_orc / 60:,.0f} min for the whole input.")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def count_lines(p: Path) -> int:
    n = 0
    with p.open("rb") as f:
        while chunk := f.read(1 << 24):
            n += chunk.count(b"\n")
    return n


def make_bench_data(conn_path: Path, dns_path: Path, size_mb: int, data: Path, gen_src: Path, corpus: Path) -> None:
    """≈ 3/4 of size_mb as a gen_conn JSON conn log, ≈ 1/4 as DNS lines: the zed sample's DNS log repeated with
    shifted timestamps, fresh uids and perturbed client addresses. Written through temporary names and reused."""
    if not conn_path.exists():
        gen = data / "gen_conn"
        if not gen.exists():
            if not gen_src.exists():
                sys.exit(f"error: {gen_src} is missing; cannot generate the conn log")
            subprocess.run(["cc", "-O2", "-o", str(gen), str(gen_src)], check=True)
        tmp = conn_path.with_suffix(".tmp")
        subprocess.run([str(gen), "--json", str(tmp), "--size-mb", str(size_mb * 3 // 4), "--seed", "1"],
                       check=True, stderr=subprocess.DEVNULL)
        tmp.rename(conn_path)
    if not dns_path.exists():
        src = corpus / "zed-sample-data" / "zeek-json" / "dns.json.gz"
        base = [json.loads(l) for l in gzip.open(src, "rt", encoding="utf-8") if l.strip()]
        limit = size_mb * (1 << 20) // 4
        rnd = random.Random(7)
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        tmp = dns_path.with_suffix(".tmp")
        written, rep = 0, 0
        with tmp.open("w", encoding="utf-8") as out:
            while written < limit:
                shift = rep * 86400
                for ev in base:
                    e = dict(ev)
                    if isinstance(e.get("ts"), str) and e["ts"].startswith("2018-03-"):
                        day = int(e["ts"][8:10]) + rep
                        e["ts"] = f"2018-{3 + (day - 1) // 28:02d}-{(day - 1) % 28 + 1:02d}" + e["ts"][10:]
                    e.pop("_write_ts", None)
                    e["uid"] = "C" + "".join(rnd.choice(alphabet) for _ in range(17))
                    if rep and isinstance(e.get("id.orig_h"), str) and e["id.orig_h"].count(".") == 3:
                        a = e["id.orig_h"].split(".")
                        a[3] = str((int(a[3]) + rep) % 254 + 1)
                        e["id.orig_h"] = ".".join(a)
                    line = json.dumps(e, separators=(",", ":")) + "\n"
                    out.write(line)
                    written += len(line)
                    if written >= limit:
                        break
                rep += 1
                del shift
        tmp.rename(dns_path)


# ----------------------------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--flowhound", type=Path, default=REPO / ".build" / "debug" / "flowhound",
                    help="flowhound binary for the differential (default: .build/debug/flowhound)")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared",
                    help="folder with corpus/ and tools/ (default: ../shared)")
    ap.add_argument("--extra-rules", action="append", default=[],
                    help="more rule files or folders for both sides (e.g. correlations); repeatable")
    ap.add_argument("--keep-work", default=None, help="keep the work files (decompressed logs, rule sets) here")
    ap.add_argument("--no-probes", action="store_true", help="compare on the corpus logs only, without probe events")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--bench", action="store_true", help="throughput of flowhound vs the oracle instead")
    ap.add_argument("--bench-flowhound", type=Path, default=REPO / ".build" / "release" / "flowhound",
                    help="binary for --bench (default: .build/release/flowhound)")
    ap.add_argument("--bench-size-mb", type=int, default=1100, help="size of the generated input (default 1100)")
    ap.add_argument("--oracle-lines", type=int, default=200_000,
                    help="lines of the input the oracle is timed on (default 200000)")
    ap.add_argument("--rounds", type=int, default=3, help="flowhound rounds in --bench (median; default 3)")
    args = ap.parse_args()
    args.shared = args.shared.resolve()
    args.flowhound = args.flowhound if args.flowhound.is_absolute() else (Path.cwd() / args.flowhound)
    args.bench_flowhound = (args.bench_flowhound if args.bench_flowhound.is_absolute()
                            else Path.cwd() / args.bench_flowhound)
    if not (args.shared / "corpus").exists():
        print(f"sigma_differential: skipped: {args.shared} (corpus and oracle) is not available")
        return 0
    ensure_venv()
    return bench(args) if args.bench else differential(args)


if __name__ == "__main__":
    sys.exit(main())
