"""What the report says besides the claims' own results: the header, the methods and set-up section,
key results with their accuracy, the device a run checked and the GPU record.

Pure functions of the results document (results.json), written in the report's ASCII notation; the
HTML and Markdown renderers format them. Nothing here computes a figure.
"""
from __future__ import annotations

from typing import Mapping

from .cuda_record import figure_text

__all__ = ["PROFILE_TEXT", "seconds", "key_text", "key_accuracy", "device_text", "header_facts", "methods_items",
           "record_lines", "record_rows", "record_summary", "claim_heading_note"]

#: what each profile is for (shown in "Methods and set-up")
PROFILE_TEXT = {
    "quick": "quick: small K ranges and few samples, seconds per claim; what the unit tests run",
    "default": "default: the K ranges and sample sizes of the committed reference report, a few minutes on "
               "2 cores",
    "full": "full: the longest sweeps (larger K, more samples and seeds); tens of minutes",
}

_CERTIFIED = ("*Certified* means proved by the computation itself: every rounding error is enclosed (ball "
              "arithmetic in Arb via python-flint, exact rational arithmetic), so a certified bracket [lower, upper] "
              "contains the true value. A maximum taken over a grid is only a lower bound; an upper bound comes from "
              "a bound on the function between grid points (Taylor models or derivative bounds, also in Arb). Figures "
              "that are fitted or sampled say so in their accuracy statement.")


def seconds(x) -> str:
    return f"{float(x):.1f}" if isinstance(x, (int, float)) and not isinstance(x, bool) else "—"


def key_text(claim: Mapping) -> str:
    """``label: text`` of the claim's key result ('' when the check did not produce it)."""
    kf = claim.get("key_figure") or {}
    if not kf.get("text"):
        return ""
    return f"{kf['label']}: {kf['text']}" if kf.get("label") else kf["text"]


def key_accuracy(claim: Mapping) -> str:
    kf = claim.get("key_figure") or {}
    return kf.get("accuracy") or "" if kf.get("text") else ""


def device_text(doc: Mapping) -> str:
    """The device this run checked (C8 runs on it), e.g. ``CPU (x86_64, 2 cores)`` or ``CUDA: NVIDIA H200``."""
    env = doc.get("environment") or {}
    return env.get("device") or "CPU"


def record_summary(doc: Mapping) -> str:
    """One line on the GPU record for the title area and the methods section."""
    rec = doc.get("cuda_record") or {}
    if rec.get("error"):
        return f"the GPU record `{rec.get('path')}` is invalid: {rec['error']}"
    r = rec.get("record")
    path = rec.get("path") or "reports/cuda/cuda_record.json"
    if not r:
        return f"no GPU record exists in this repository (`{path}`)"
    if not r.get("gpu", True):
        return (f"no GPU record exists in this repository: `{path}` holds a run made without a GPU "
                f"({r['device']}, {str(r['date'])[:10]})")
    return f"GPU record: C8 {rec.get('verdict')} on {r['device']}, {str(r['date'])[:10]} (commit `{r['commit']}`)"


def header_facts(doc: Mapping) -> list[str]:
    s = doc["summary"]
    return [f"Checked on {device_text(doc)}; {record_summary(doc)}.",
            f"Generated {doc['generated_utc']} with profile `{doc['profile']}`, seed {doc['seed']}, alft-verify "
            f"{doc['package_version']} (commit `{doc.get('git_commit') or 'unknown'}`), in "
            f"{seconds(doc.get('wall_seconds'))} s.",
            f"Overall: **{s['status']}** ({s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped)."]


def _versions(env: Mapping) -> str:
    names = [("python", "Python"), ("numpy", "NumPy"), ("scipy", "SciPy"), ("mpmath", "mpmath"),
             ("flint", "python-flint"), ("cvxpy", "CVXPY"), ("matplotlib", "Matplotlib"), ("torch", "PyTorch")]
    return ", ".join(f"{label} {env[k]}" for k, label in names if env.get(k)) or "not recorded"


def methods_items(doc: Mapping) -> list[tuple[str, str]]:
    """(label, text) pairs of the "Methods and set-up" section."""
    env = doc.get("environment") or {}
    cores = env.get("cpu_count")
    return [
        ("Machine", f"{env.get('platform', 'unknown platform')}"
                    + (f", {cores} CPU cores" if cores else "") + f"; checks ran on {device_text(doc)}."),
        ("Versions", _versions(env) + f"; alft-verify {doc.get('package_version')} at commit "
                                      f"`{doc.get('git_commit') or 'unknown'}`."),
        ("Profile", PROFILE_TEXT.get(doc.get("profile"), str(doc.get("profile"))) + "."),
        ("Seeds", f"every random draw (Monte Carlo groups, game runs, generated test cases) takes its seed from "
                  f"`--seed {doc.get('seed')}`; two runs with the same seed, profile, code and environment write the "
                  f"same results.json apart from its time fields."),
        ("Pass criteria", "each section states the conditions its verdict requires, with the numbers they compare "
                          "against; the check decides PASS exactly when every condition holds (the report prints "
                          "the same conditions the check evaluates)."),
        ("Certified", _CERTIFIED),
        ("Sampling", "Monte Carlo checks use normal or Student-t intervals with a Bonferroni correction; each "
                     "section states its family-wise false-alarm rate and sample sizes."),
        ("GPU", record_summary(doc) + "."),
    ]


def record_rows(doc: Mapping) -> list[list[str]]:
    """The GPU record's steps as table rows: step, verdict, figures."""
    r = (doc.get("cuda_record") or {}).get("record")
    if not r:
        return []
    return [[s["name"], s["verdict"], figure_text(s.get("figures") or {}) or "—"] for s in r["steps"]]


def record_lines(doc: Mapping) -> list[str]:
    """What the C8 section says about the GPU record (report notation)."""
    rec = doc.get("cuda_record") or {}
    r = rec.get("record")
    if not r or not r.get("gpu", True):
        text = record_summary(doc)
        return [text[:1].upper() + text[1:] + ": the CUDA half of C8 has not been recorded; a GPU run "
                "writes it (docs/report.md, \"The CUDA record\")."]
    same = r["commit"][:7] == (doc.get("git_commit") or "")[:7]
    return [f"**Recorded on a GPU, not re-run here.** {r['device']} with PyTorch {r['torch']}, CUDA {r['cuda']}"
            + (f", Triton {r['triton']}" if r.get("triton") else "") + f", on {r['date']} at commit `{r['commit']}` "
            + ("(the commit of this report)." if same else f"(this report: commit `{doc.get('git_commit') or 'unknown'}`; "
               "the record may predate changes since).")
            + f" Verdict of the record: **{rec.get('verdict')}**."]


def claim_heading_note(doc: Mapping, claim: Mapping) -> str:
    """Extra words for a claim heading: C8 names the device it checked here and the GPU record."""
    if claim.get("id") != "C8":
        return ""
    devices = (claim.get("figures") or {}).get("devices") or []
    r = (doc.get("cuda_record") or {}).get("record")
    here = ", ".join(devices) if devices else device_text(doc)
    return f"checked here on {here}" + (f"; GPU record: {r['device']}" if r and r.get("gpu", True)
                                         else "; no GPU record")
