"""``sim validate``: reproduce the solver's validation figures beside their references.

Targets:

* ``aiyagari`` -- Aiyagari (1994) Table II equilibrium interest rates (all 24 cells by default,
  a few minutes; progress per cell on stderr) beside the paper's numbers;
* ``hark`` -- consumption and risky-share functions beside econ-ark/HARK's
  ``MarkovConsumerType`` and ``PortfolioConsumerType`` solved live on equal calibrations;
* ``merton`` -- the risky share at large wealth beside the Merton-Samuelson limit of the
  discretised returns and the lognormal Merton share.

Exit status 0 when every figure printed is within its tolerance, 1 otherwise (2 for usage
errors). No hidden subset: ``sim validate aiyagari`` judges all 24 cells and fails, because 7
cells (marked "chain") are not reproduced by the standard Tauchen chain; ``--cells ci`` prints
and judges only the cells the tests check.
Run as ``sim validate ...`` or ``python -m sim.validate ...``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import numpy as np

__all__ = ["main"]

# Tolerances (also used by the tests): Aiyagari rate in percentage points by rho, HARK relative.
AIYAGARI_TOL_PP = {0.0: 0.05, 0.3: 0.05, 0.6: 0.05, 0.9: 0.25}
HARK_RTOL = 1e-3
#: ``--cells ci``, the cells the tests check: those the standard Tauchen chain reproduces within
#: tolerance with a margin well above the numerical error (~0.006 pp). Within tolerance but left
#: out for a thin margin: (0.4, 0.6, 1) at +0.046 pp. The command judges whatever cells it prints
#: (all 24 by default); see docs/solver.md for all 24.
AIYAGARI_CI_CELLS = [
    (0.2, 0.0, 1.0), (0.2, 0.3, 1.0), (0.2, 0.3, 3.0), (0.2, 0.3, 5.0), (0.2, 0.6, 1.0),
    (0.2, 0.6, 3.0), (0.2, 0.6, 5.0), (0.2, 0.9, 1.0), (0.2, 0.9, 3.0), (0.2, 0.9, 5.0),
    (0.4, 0.0, 1.0), (0.4, 0.0, 3.0), (0.4, 0.0, 5.0), (0.4, 0.3, 1.0), (0.4, 0.9, 1.0),
    (0.4, 0.9, 3.0),
]


def _parse_cells(text: str) -> list[tuple[float, float, float]]:
    from sim.solver.aiyagari_table import TABLE_II, cells

    if text == "all":
        return cells()
    if text == "ci":
        return list(AIYAGARI_CI_CELLS)
    out = []
    for item in text.split(";"):
        try:
            sigma, rho, mu = (float(v) for v in item.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad cell {item!r}: expected sigma,rho,mu") from None
        if (sigma, rho, mu) not in TABLE_II:
            raise argparse.ArgumentTypeError(f"cell {item!r} is not in Table II")
        out.append((sigma, rho, mu))
    return out


# ----- aiyagari --------------------------------------------------------------------------------


def _run_aiyagari(args) -> dict:
    from sim.solver import aiyagari as ai

    settings = ai.FAST if args.fast else ai.FULL
    todo = args.cells

    def progress(i, n, eq):
        print(
            f"[{i}/{n}] sigma={eq.sigma} rho={eq.rho} mu={eq.crra:g}: r = {100 * eq.r:.4f}% "
            f"({eq.evaluations} household solves, {eq.seconds:.1f} s)",
            file=sys.stderr, flush=True,
        )

    rows = ai.reproduce_table(todo, settings=settings, progress=progress)
    return _judge_aiyagari(rows, settings)


def _judge_aiyagari(rows: list[dict], settings) -> dict:
    """Judge every printed cell against the paper; ``ok`` only when none misses its tolerance."""
    from sim.solver import aiyagari as ai
    from sim.solver.aiyagari_table import CHAIN_CELLS, REPLICATION_R_PERCENT

    for row in rows:
        cell = (row["sigma"], row["rho"], row["mu"])
        row["tol_pp"] = AIYAGARI_TOL_PP[row["rho"]]
        row["within_tol"] = bool(abs(row["diff_pp"]) <= row["tol_pp"])
        row["chain"] = cell in CHAIN_CELLS
        row["replication_r_percent"] = REPLICATION_R_PERCENT.get(cell)
    table = ai.format_table(rows).splitlines()
    lines = [table[0] + "   tol  within  note", "-" * (len(table[0]) + 40)]
    for row, text in zip(rows, table[2:]):
        note = "chain" if row["chain"] else ""
        if row["replication_r_percent"] is not None:
            note += f"{' ' if note else ''}(replication {row['replication_r_percent']:.2f})"
        lines.append(f"{text}  {row['tol_pp']:.2f}  {'yes' if row['within_tol'] else 'NO':>6}  {note}")
    misses = [r for r in rows if not r["within_tol"]]
    chain_misses = sum(r["chain"] for r in misses)
    lines.append(
        f"\n{len(rows) - len(misses)}/{len(rows)} cells within tolerance of the paper (0.05 pp for "
        f"rho <= 0.6, 0.25 pp for rho = 0.9); {len(misses)} miss"
        + (f", {chain_misses} of them marked 'chain'." if misses else ".")
    )
    lines.append(
        "Chain: standard Tauchen (1986), 7 states on [-3 sigma, 3 sigma], sigma = stationary std of "
        "log labour. 'chain' marks the 7 of 24 cells this chain does not reproduce: the gap is the "
        "chain against the paper's own discretisation and numerics, not the solver (stable under grid "
        "refinement; an independent standard-Tauchen replication, its number shown where known, "
        "shows the same pattern; docs/solver.md). They are still misses and fail the command."
    )
    return {
        "target": "aiyagari",
        "reference": "Aiyagari (1994, QJE) Table II, net return to capital in percent",
        "settings": dataclasses.asdict(settings),
        "rows": rows,
        "ok": not misses,
        "text": "\n".join(lines),
    }


# ----- hark ------------------------------------------------------------------------------------


def hark_markov_case():
    """14-state (7 productivity x employed/unemployed) calibration with transitory shocks."""
    from sim.solver.household import HouseholdProblem
    from sim.solver.markov import product_chain, stationary_distribution, tauchen

    logz, Pz = tauchen(7, 0.8, 0.3)
    z = np.exp(logz) / (stationary_distribution(Pz) @ np.exp(logz))
    states, P = product_chain((z, Pz), (np.array([1.0, 0.3]), np.array([[0.94, 0.06], [0.5, 0.5]])))
    return HouseholdProblem(
        crra=3.0, beta=0.94, R_free=1.03, transition=P, income=states[:, 0] * states[:, 1],
        transitory_std=0.1, transitory_nodes=3, grid_points=300, a_max=60.0,
    )


def hark_portfolio_case():
    """One income state, transitory shocks, lognormal risky return (HARK-like annual numbers)."""
    from sim.solver.household import HouseholdProblem

    return HouseholdProblem(
        crra=5.0, beta=0.92, R_free=1.02, transition=np.ones((1, 1)), income=np.ones(1),
        risky_mean=1.07, risky_std=0.18, risky_nodes=7, transitory_std=0.15, transitory_nodes=7,
        grid_points=300, a_max=100.0,
    )


HARK_M_POINTS = np.array([0.3, 0.6, 0.9, 1.2, 1.6, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 35.0, 50.0])


def _run_hark(args) -> dict:
    from sim.solver.household import solve_household

    try:
        from sim.solver.hark_reference import hark_markov_consumption, hark_portfolio_policy
        import HARK  # noqa: F401
    except ImportError:
        return {"target": "hark", "ok": True, "skipped": "econ-ark (HARK) is not installed",
                "text": "HARK (econ-ark) is not installed: no live reference; nothing compared."}
    m = HARK_M_POINTS
    out = {"target": "hark", "m": m.tolist(), "rtol": HARK_RTOL, "cases": []}
    lines = []

    prob = hark_markov_case()
    ours, _ = solve_household(prob).on_grid(m)
    ref = hark_markov_consumption(prob)(m)
    rel = np.abs(ours / ref - 1.0)
    out["cases"].append({"case": "MarkovConsumerType (14 states, no risky asset)", "max_rel_c": float(rel.max())})
    lines.append("MarkovConsumerType, 14 states: consumption in state 0 (lowest income) and 13 (highest)")
    lines.append(f"{'m':>7} {'c ours s0':>11} {'c HARK s0':>11} {'c ours s13':>11} {'c HARK s13':>11}")
    for j, mj in enumerate(m):
        lines.append(f"{mj:>7.2f} {ours[0, j]:>11.6f} {ref[0, j]:>11.6f} {ours[-1, j]:>11.6f} {ref[-1, j]:>11.6f}")
    lines.append(f"max relative difference in c over all states: {rel.max():.2e}\n")

    prob = hark_portfolio_case()
    c, s = solve_household(prob).on_grid(m)
    c_ref, s_ref = hark_portfolio_policy(prob)(m)
    rel_c = np.abs(c[0] / c_ref - 1.0)
    rel_s = np.abs(s[0] - s_ref) / s_ref
    out["cases"].append({
        "case": "PortfolioConsumerType (risky asset)",
        "max_rel_c": float(rel_c.max()), "max_rel_share": float(rel_s.max()),
    })
    lines.append("PortfolioConsumerType: consumption and risky share")
    lines.append(f"{'m':>7} {'c ours':>10} {'c HARK':>10} {'share ours':>11} {'share HARK':>11}")
    for j, mj in enumerate(m):
        lines.append(f"{mj:>7.2f} {c[0, j]:>10.6f} {c_ref[j]:>10.6f} {s[0, j]:>11.6f} {s_ref[j]:>11.6f}")
    lines.append(f"max relative difference: c {rel_c.max():.2e}, share {rel_s.max():.2e}")
    out["ok"] = all(max(v for k, v in case.items() if k.startswith("max")) <= HARK_RTOL for case in out["cases"])
    out["text"] = "\n".join(lines)
    return out


# ----- merton ----------------------------------------------------------------------------------


def _run_merton(args) -> dict:
    from scipy.optimize import brentq

    from sim.solver.household import HouseholdProblem, solve_household
    from sim.solver.returns import lognormal_nodes, merton_share

    mean, std, R_f, gamma, beta = 1.06, 0.2, 1.02, 4.0, 0.95

    def discrete_limit(n):
        R, w = lognormal_nodes(mean, std, n)
        return brentq(lambda s: np.sum(w * (R_f + s * (R - R_f)) ** (-gamma) * (R - R_f)), 0.0, 1.0, xtol=1e-14)

    prob = HouseholdProblem(
        crra=gamma, beta=beta, R_free=R_f, transition=np.ones((1, 1)), income=np.ones(1),
        risky_mean=mean, risky_std=std, risky_nodes=9, grid_points=300, a_max=1e5,
    )
    m = np.array([0.5, 2.0, 10.0, 1e2, 1e3, 1e4, 1e5])
    _, share = solve_household(prob).on_grid(m)
    limit = discrete_limit(9)
    merton = merton_share(mean, std, R_f, gamma)
    nodes = [5, 9, 25, 101, 401]
    by_nodes = [discrete_limit(n) for n in nodes]
    lines = [
        f"risky return: mean {mean}, log-std {std}; R_f {R_f}; gamma {gamma}; income 1 (safe)",
        f"{'m':>9} {'share ours':>11} {'limit (9 nodes)':>16}",
    ]
    lines += [f"{mj:>9.1f} {sj:>11.6f} {limit:>16.6f}" for mj, sj in zip(m, share[0])]
    lines.append(f"\nMerton lognormal share (log E[R] - log R_f)/(gamma sigma^2) = {merton:.6f}")
    lines.append(f"{'nodes':>6} {'discrete limit':>15} {'minus Merton':>13}")
    lines += [f"{n:>6} {v:>15.6f} {v - merton:>+13.6f}" for n, v in zip(nodes, by_nodes)]
    ok = abs(share[0, -1] - limit) < 2e-3 and share[0, 0] == 1.0 and abs(by_nodes[-1] - merton) < 0.01
    return {
        "target": "merton", "m": m.tolist(), "share": share[0].tolist(), "discrete_limit": limit,
        "merton_share": merton, "nodes": nodes, "discrete_limit_by_nodes": by_nodes, "ok": bool(ok),
        "text": "\n".join(lines),
    }


RUNNERS = {"aiyagari": _run_aiyagari, "hark": _run_hark, "merton": _run_merton}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sim validate",
        description=(
            "Reproduce the household solver's validation figures beside their references: "
            "Aiyagari (1994) Table II, econ-ark/HARK policy functions (computed live), and the "
            "Merton-Samuelson limiting risky share. Exit status 0 only if every figure printed is "
            "within tolerance; 1 (FAIL) if any misses."
        ),
        epilog=(
            "examples:\n"
            "  sim validate aiyagari                # all 24 cells, careful settings (minutes)\n"
            "  sim validate aiyagari --cells ci --fast\n"
            "  sim validate aiyagari --cells '0.4,0.9,5'\n"
            "  sim validate hark --json\n"
            "  sim validate merton"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", choices=sorted(RUNNERS), help="which validation to run")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    parser.add_argument(
        "--cells", type=_parse_cells, default="all",
        help="aiyagari only: 'all' (default, 24 cells; 7 'chain' cells miss, so it fails), 'ci' "
             "(the 16 cells the tests check), or "
             "'sigma,rho,mu[;sigma,rho,mu...]'",
    )
    parser.add_argument("--out", metavar="PATH", help="also write the output (text or JSON) to PATH")
    parser.add_argument(
        "--fast", action="store_true",
        help="aiyagari only: the fast CI grid settings instead of the careful ones",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if isinstance(args.cells, str):  # argparse does not convert defaults given as strings
        args.cells = _parse_cells(args.cells)
    t0 = time.perf_counter()
    result = RUNNERS[args.target](args)
    result["seconds"] = time.perf_counter() - t0
    if args.json:
        text = json.dumps({k: v for k, v in result.items() if k != "text"}, indent=2, default=float)
    else:
        verdict = "skipped" if result.get("skipped") else ("PASS" if result["ok"] else "FAIL")
        text = f"{result['text']}\n\n{args.target}: {verdict} ({result['seconds']:.1f} s)"
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
