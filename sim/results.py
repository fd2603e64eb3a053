"""The run's results as a labelled, chunked dataset (``results.zarr``) and its provenance record.

Metadata follow the CF conventions (``Conventions = "CF-1.10"``): every variable carries
``units`` (a string pint parses with :func:`sim.data.unit_registry`: ``"1"`` for fractions and
indices, ``"goods / period"``, ``"1 / period"``, ``"1 / year"``, ...), ``long_name`` and
``description``; each statistic with a sketch-error bound names it in ``ancillary_variables``.
Time series are on dimension ``period`` with a ``year`` coordinate (``period / periods_per_year``),
snapshots on (``snapshot``, ``quantile``) and (``snapshot``, ``decile``).
"""
from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import warnings
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

# Unit strings: pint syntax with two units of our own ("goods", "efficiency_unit") and "period"
# (1/periods_per_year of a year), all defined in sim.data.unit_registry. "1" = dimensionless (CF).
GOODS = "goods / period"
SHARE = "1"
RATE = "1 / period"
CONVENTIONS = "CF-1.10"
# name -> (units, description). Every time series written goes here (tests check the attrs).
SERIES: dict[str, tuple[str, str]] = {
    "output": (GOODS, "actual output Y_t"),
    "potential_output": (GOODS, "potential output at full employment Y*_t"),
    "consumption": (GOODS, "aggregate household consumption C_t (real)"),
    "investment": (GOODS, "gross investment I_t (fixed closure: household net saving; classical: saving; demand: economy.investment.rule)"),
    "government_spending": (GOODS, "government consumption G_t"),
    "wage": ("goods / efficiency_unit / period", "wage w_t"),
    "return_safe": ("1", "gross return on safe assets R_f, per period"),
    "return_risky": ("1", "realised gross return on risky holdings, per period"),
    "labour_share": (SHARE, "labour income over output"),
    "unemployment_rate": (SHARE, "households not employed (unemployed + displaced)"),
    "displacement_rate": (SHARE, "households displaced by automation"),
    "automation": (SHARE, "automation frontier Phi_t: share of tasks automated"),
    "inflation": (RATE, "inflation of the consumption price"),
    "expected_inflation": (RATE, "expected inflation pi^e_t (anchored: weight on the target and on last inflation)"),
    "nominal_rate": (RATE, "nominal policy rate"),
    "real_rate": (RATE, "real safe rate"),
    "debt_to_gdp": ("1", "government debt over annual output"),
    "ubi_cost": (GOODS, "total UBI paid"),
    "fee_revenue": (GOODS, "payment fees earned by intermediaries"),
    "dominant_capital_share": (SHARE, "share of capital owned by the dominant holder"),
    "mean_wealth": ("goods", "mean household wealth, end of period"),
    "gini_wealth": ("1", "Gini coefficient of household wealth (end of period)"),
    "gini_income": ("1", "Gini coefficient of disposable income"),
    "gini_consumption": ("1", "Gini coefficient of consumption"),
    "top1_wealth_share": (SHARE, "wealth share of the top 1% by wealth"),
    "top10_wealth_share": (SHARE, "wealth share of the top 10% by wealth"),
    "bottom50_wealth_share": (SHARE, "wealth share of the bottom 50% by wealth"),
    "bottom50_capital_share": (SHARE, "share of household risky capital owned by the bottom 50% by wealth"),
    "top1_capital_share": (SHARE, "share of household risky capital owned by the top 1% by wealth"),
    "poverty_rate": (SHARE, "households with disposable income below the poverty line"),
    "median_income": (GOODS, "median disposable income"),
    "sfc_residual": ("1", "largest stock-flow accounting residual / output"),
    # --- classical and demand closures (docs/economy.md) ---
    "planned_output": (GOODS, "output firms plan, Q_t = min(Y*_t, expected demand less inventory correction)"),
    "demand": (GOODS, "realised demand D_t = C + C_I + C_X + G + I"),
    "expected_demand": (GOODS, "firms' expected demand D^e_t"),
    "inventories": ("goods", "firms' inventories N_t, end of period (negative: order backlog)"),
    "rationed_demand": (GOODS, "orders not served because they exceed output plus inventories (rationing queue)"),
    "inventory_change": (GOODS, "unsold output Y_t - D_t added to inventories"),
    "capital": ("goods", "capital stock K_{t+1} installed for the next period"),
    "utilisation": (SHARE, "capacity utilisation Q_t / Y*_t (classical: 1)"),
    "tobin_q": ("1", "utilisation-adjusted Tobin's q (classical: 1; drives investment under economy.investment.rule=q)"),
    "rental_rate": ("1 / year", "gross marginal product of capital R_t (before depreciation)"),
    "employment_rate": (SHARE, "households employed"),
    "effective_labour": ("efficiency_unit", "effective labour L_t: productivity summed over the employed"),
    "job_finding": (RATE, "probability a non-employed household finds a job"),
    "separation": (RATE, "probability an employed worker separates"),
    "output_gap": ("1", "demand gap D_t / Y*_t - 1 (slack < 0) driving the Phillips curve"),
    "price_level": ("1", "price level of the consumption good (P_0 = 1)"),
    "government_debt": ("goods", "government debt B_G, end of period (negative: net assets)"),
    "government_deficit": (GOODS, "government borrowing: spending + transfers + interest - revenue"),
    "tax_revenue": (GOODS, "taxes collected (plus payment fees where the government earns them)"),
    "tax_labour_rate": (SHARE, "labour income tax rate in force (after any financing-rule surcharge)"),
    "tax_capital_rate": (SHARE, "capital income tax rate in force (after any financing-rule surcharge)"),
    "tax_escape_offset": (SHARE, "the tax rule's escape clause: its offset to next period's surcharge (< 0 after a spell at the lower bound with slack, else 0)"),
    "ubi_level": (GOODS, "UBI per household (cash + auto-invested)"),
    "benefit_cost": (GOODS, "unemployment benefits paid"),
    "intermediaries_spending": (GOODS, "payment intermediaries' consumption C_I"),
    "intermediaries_assets": ("goods", "payment intermediaries' safe assets S_I"),
    "firm_debt": ("goods", "firm sector debt D_F (safe asset; negative: net cash)"),
    "firm_net_worth": ("goods", "firm sector net worth NW_F = K + N - D_F - equity (value market: paid out next period; priced: equity at its price)"),
    "equity_value": ("goods", "firm equity at its holders' value E = households + fund + dominant holder (priced market: p S)"),
    # --- the priced equity market (economy.equity.market=priced, sim/macro/equity.py; PRICED_MARKET) ---
    "equity_price": ("goods / share", "equity price p_t that clears the market"),
    "dividend": ("goods / share / period", "dividend d_t per share paid this period"),
    "shares_outstanding": ("share", "shares outstanding S_t at the end of the period"),
    "equity_clearing_gap": ("1", "shares held at the clearing price over the planned supply, less 1 (firms absorb it)"),
    "expected_equity_return": (RATE, "households' expected net equity return E[R] - 1, from observables"),
    "firm_profit": (GOODS, "firm profit Pi = Y - wL - depreciation - interest - levy (next period's dividends)"),
    "belief_bound_binds": ("1", "1 if both returns' levels were lowered to economy.patience_cap (none under market=priced)"),
    "equity_buyback_capped": ("1", "1 if the firms' buyback toward their leverage target hit its guard (half the shares)"),
    "equity_no_seller": ("1", "1 if only the fund and the dominant holder would hold the shares supplied: the period "
                              "traded at the price where households want no equity, firms issuing the gap"),
    "household_safe_assets": ("goods", "households' safe assets b at the end of the period"),
    "household_risky_assets": ("goods", "households' equity at its value k at the end of the period (priced market: at its price)"),
    "participation_rate": (SHARE, "share of households holding equity at the end of the period"),
    "participation_costs": (GOODS, "stock-market participation costs households paid (kappa x holders)"),
    "fund_capital_share": (SHARE, "share of firm equity owned by the public / tokenised capital fund"),
    "fund_dividend": (GOODS, "the fund's equal per-household dividend"),
    "dominant_consumption": (GOODS, "the dominant holder's consumption C_X"),
    "household_capital_share": (SHARE, "share of firm equity owned by households"),
    "bottom50_consumption_share": (SHARE, "share of consumption by the bottom 50% by wealth"),
    # --- one-off transfer experiments (sim experiment mpc, docs/experiments.md) ---
    "household_spending": (GOODS, "household consumption at consumer prices, C (1 + tau_c + f)"),
    "treated": ("1", "households paid this period's one-off transfer (0 without one)"),
    "treated_consumption": (GOODS, "consumption of the households paid the one-off transfer"),
    "consumption_squared": ("goods ** 2 / period ** 2", "sum over households of squared consumption c_i^2"),
    "treated_consumption_squared": ("goods ** 2 / period ** 2",
                                    "sum over the treated households of squared consumption c_i^2"),
}
# the series only a priced equity market writes (``market=priced``); every run writes the others
PRICED_MARKET = ("equity_price", "dividend", "shares_outstanding", "equity_clearing_gap", "expected_equity_return",
                 "firm_profit", "belief_bound_binds", "equity_buyback_capped", "equity_no_seller")
BOUNDED = ["gini_wealth", "gini_income", "gini_consumption", "top1_wealth_share",
           "top10_wealth_share", "bottom50_wealth_share", "bottom50_capital_share",
           "top1_capital_share", "bottom50_consumption_share"]
for _name in BOUNDED:
    SERIES[f"{_name}_bound"] = (SERIES[_name][0], f"bound on the sketch error of {_name}: |true - value| <= bound")

SNAPSHOTS: dict[str, tuple[str, str, str]] = {  # name -> (second dim, units, description)
    "lorenz_wealth": ("quantile", SHARE, "Lorenz curve of wealth: share held by the poorest p"),
    "lorenz_income": ("quantile", SHARE, "Lorenz curve of disposable income"),
    "lorenz_consumption": ("quantile", SHARE, "Lorenz curve of consumption"),
    "consumption_by_wealth_decile": ("decile", GOODS, "mean consumption by wealth decile"),
}


def build_dataset(rows: list[dict[str, float]], snapshots: dict[int, dict[str, np.ndarray]],
                  quantiles: np.ndarray, attrs: dict) -> xr.Dataset:
    periods = np.arange(len(rows), dtype=np.int64)
    data = {}
    for name in SERIES:
        if name in rows[0]:
            data[name] = xr.Variable("period", np.array([r[name] for r in rows], dtype=np.float64))
    snap_periods = np.array(sorted(snapshots), dtype=np.int64)
    for name, (dim, _, _) in SNAPSHOTS.items():
        data[name] = xr.Variable(("snapshot", dim), np.stack([snapshots[p][name] for p in snap_periods]))
    coords = {"period": periods, "snapshot": snap_periods, "quantile": quantiles, "decile": np.arange(1, 11)}
    return annotate(xr.Dataset(data, coords=coords, attrs=attrs))


COORDS: dict[str, tuple[str, str]] = {  # name -> (units, description)
    "period": ("period", "simulation period (0 = first)"),
    "year": ("year", "time since the start in years, period / periods_per_year"),
    "snapshot": ("period", "period of the snapshot"),
    "quantile": ("1", "population share"),
    "decile": ("1", "wealth decile (1 = poorest tenth)"),
}


def annotate(ds: xr.Dataset) -> xr.Dataset:
    """Set the CF metadata in place and return ``ds``: units, long_name and description of every
    known variable, ancillary_variables linking statistics to their bounds, the ``year`` coordinate
    (when ``periods_per_year`` is known) and ``Conventions``. Idempotent, so it also upgrades
    datasets written before these attributes existed."""
    ppy = ds.attrs.get("periods_per_year")
    if "period" in ds.coords and "year" not in ds.coords and ppy:
        ds.coords["year"] = ("period", ds["period"].values / float(ppy))
    known = dict(SERIES)
    known.update({name: (units, desc) for name, (_, units, desc) in SNAPSHOTS.items()})
    known.update(COORDS)
    for name, (units, desc) in known.items():
        if name in ds.variables:
            ds[name].attrs.update(units=units, long_name=desc, description=desc)
    for name in BOUNDED:
        if name in ds.data_vars and f"{name}_bound" in ds.data_vars:
            ds[name].attrs["ancillary_variables"] = f"{name}_bound"
    ds.attrs["Conventions"] = CONVENTIONS
    return ds


CHECKSUMS = "checksums"  # root attribute of results.zarr: JSON {variable: "sha256:<hex>"}


def _digest(values: np.ndarray) -> str:
    """SHA-256 of a variable's decoded values (dtype, shape and bytes; text as JSON)."""
    values = np.asarray(values)
    body = (json.dumps(values.tolist()).encode() if values.dtype.kind in "OUS"
            else np.ascontiguousarray(values).tobytes())
    head = f"{values.dtype.str}{values.shape}".encode()
    return "sha256:" + hashlib.sha256(head + body).hexdigest()


def checksums(ds: xr.Dataset) -> dict[str, str]:
    """The checksum of every variable and coordinate of ``ds`` (what results.zarr stores)."""
    return {name: _digest(ds[name].values) for name in sorted(map(str, ds.variables))}


def damage(ds: xr.Dataset) -> str | None:
    """What does not match the checksums written with ``ds`` (a chunk deleted or altered, a
    variable gone), or None. Stores written before checksums existed pass unchecked."""
    raw = ds.attrs.get(CHECKSUMS)
    if raw is None:
        return None
    try:
        want = json.loads(raw)
    except (TypeError, ValueError):
        return f"its '{CHECKSUMS}' attribute is not JSON"
    missing = sorted(set(want) - set(map(str, ds.variables)))
    if missing:
        return f"variable {missing[0]} is missing ({len(missing)} missing)"
    got = {name: _digest(ds[name].values) for name in want}
    bad = sorted(name for name in want if got[name] != want[name])
    if bad:
        return f"variable {bad[0]} does not match its checksum ({len(bad)} bad: a chunk missing or altered)"
    return None


def write_results(ds: xr.Dataset, run_dir: Path) -> Path:
    """Write results.zarr atomically (:func:`write_store`). The root attribute ``checksums`` holds
    the SHA-256 of every variable's values (:func:`damage` checks them on reading)."""
    ds = ds.copy()
    ds.attrs.pop(CHECKSUMS, None)
    ds.attrs[CHECKSUMS] = json.dumps(checksums(ds), sort_keys=True)
    return write_store(ds, run_dir / "results.zarr")


def write_store(ds: xr.Dataset, final: Path) -> Path:
    """Write ``ds`` as the zarr store ``final`` atomically: to a temporary name of its own, then
    rename (never a half-written store; two writers never share a temporary). A failed write
    (disk full) removes its temporary and leaves a store already at ``final`` as it was."""
    tmp = final.with_name(f"{final.name}.partial-{secrets.token_hex(4)}")
    try:
        _write_files(_encode(ds), tmp)
        if final.exists():  # move the old store aside first: the rename below stays one step
            old = final.with_name(f"{final.name}.old-{secrets.token_hex(4)}")
            final.rename(old)
            try:
                tmp.rename(final)
            except BaseException:
                old.rename(final)  # the old store back where it was
                raise
            shutil.rmtree(old, ignore_errors=True)  # the new store is in place; a leftover is swept later
        else:
            tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _encode(ds: xr.Dataset) -> dict[str, bytes]:
    """``ds`` as a zarr v3 store with consolidated metadata: each key (a path in the store) and its
    bytes. Encoded in memory: written straight to disk, each of a hundred variables costs zarr a
    few round trips through its I/O thread (0.55 s a run against 0.3, the same files)."""
    keys: dict = {}
    with warnings.catch_warnings():  # consolidated metadata is a zarr-v3 extension; xarray reads it
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification")  # str
        ds.to_zarr(zarr.storage.MemoryStore(keys), mode="w-", consolidated=True, zarr_format=3)
    return {key: buf.to_bytes() for key, buf in keys.items()}


def _write_files(files: dict[str, bytes], root: Path) -> None:
    """Write a store's keys as the files a zarr ``LocalStore`` at ``root`` holds (key = path)."""
    root.mkdir()  # never an existing store
    for key, data in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parents[1])
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def package_version() -> str:
    try:
        return metadata.version("agency-sim")
    except metadata.PackageNotFoundError:
        return "unknown"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_provenance(run_dir: Path, record: dict) -> Path:
    path = run_dir / "provenance.json"
    write_text(path, json.dumps(record, indent=2, sort_keys=True, default=str))
    return path


def write_text(path: Path, text: str) -> None:
    """Write a small text file whole: a temporary of its own, then rename (never half a file)."""
    tmp = path.with_name(f"{path.name}.partial-{secrets.token_hex(4)}")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
