"""``mfg-plant``: seed a plant database, run it live, switch scenarios on, show what is there."""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from mfg_assets.plant.config import DirtConfig, PlantConfig, floor_hour
from mfg_assets.plant.driver import TickReport, run_live, seed_plant
from mfg_assets.plant.importers.command import add_import_command
from mfg_assets.plant.scenarios import SCENARIOS, ScenarioSpec, scenario_spec
from mfg_assets.plant.writer import PlantDB, mask_url
from mfg_assets.settings import plant_db_url

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
OFFSET_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_time(text: str, base: datetime | None = None) -> datetime:
    """``now``, an ISO time (naive means UTC) or ``+<n><s|m|h|d>`` after ``base``."""
    text = text.strip()
    if text == "now":
        return datetime.now(UTC)
    offset = re.fullmatch(r"\+(\d+(?:\.\d+)?)([smhd])", text)
    if offset:
        if base is None:
            raise ValueError(f"relative time {text!r} needs a plant to be relative to")
        return base + timedelta(**{OFFSET_UNITS[offset[2]]: float(offset[1])})
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"bad time {text!r}: use ISO 8601 (2026-11-20T06:00Z), now or +2h"
        ) from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def parse_params(pieces: Sequence[str]) -> dict[str, str]:
    """``k=v`` pieces; a piece without ``=`` continues the previous value as a list item."""
    params: dict[str, str] = {}
    key = None
    for piece in pieces:
        if "=" in piece:
            key, value = piece.split("=", 1)
            params[key.strip()] = value.strip()
        elif key is not None:
            params[key] += "," + piece.strip()
        else:
            raise ValueError(f"bad scenario parameter {piece!r}: use key=value")
    return params


def parse_scenario(text: str, base: datetime) -> ScenarioSpec:
    """``NAME@TIME[:k=v,...]`` (TIME as in :func:`parse_time`, ``+`` offsets after ``base``)."""
    name, at, rest = text.partition("@")
    if not at:
        raise ValueError(f"bad scenario {text!r}: use NAME@TIME[:k=v,...]")
    time_text, params_text = rest, ""
    if "=" in rest:
        split = rest.rfind(":", 0, rest.index("="))
        time_text, params_text = rest[:split], rest[split + 1 :]
    params = parse_params(params_text.split(",")) if params_text else {}
    return scenario_spec(name.strip(), parse_time(time_text, base), params)


def _print_counts(db: PlantDB) -> None:
    counts = db.row_counts()
    width = max(map(len, counts))
    for table, count in counts.items():
        note = f"  ({db.failure_count()} failures)" if table == "machine_events" else ""
        print(f"  {table:<{width}}  {count:>12,}{note}")


def _seed(args: argparse.Namespace) -> None:
    if args.days <= 0:
        raise ValueError("--days must be > 0")
    end = floor_hour(datetime.now(UTC)) if args.end is None else parse_time(args.end)
    epoch = floor_hour(end - timedelta(days=args.days))
    scenarios = tuple(parse_scenario(text, epoch) for text in args.scenario)
    config = PlantConfig(
        machines=args.machines,
        seed=args.seed,
        sample_interval_s=args.interval,
        epoch=epoch,
        dirt=DirtConfig.clean() if args.clean else DirtConfig(),
        scenarios=scenarios,
    )
    db = PlantDB(args.db)
    summary = seed_plant(db, config, end)
    readings = summary.rows["sensor_readings"]
    print(
        f"seeded {db.display_url}: {config.machines} machines, seed {config.seed}, "
        f"{config.sample_interval_s} s interval, {len(scenarios)} scenario(s)"
    )
    print(f"  time range  {summary.start.isoformat()} .. {summary.end.isoformat()}")
    _print_counts(db)
    print(
        f"  took {summary.seconds:.1f} s ({readings / max(summary.seconds, 1e-9):,.0f} readings/s)"
    )


def _run(args: argparse.Namespace) -> None:
    db = PlantDB(args.db)
    db.config()  # fails early and clearly when nothing was seeded
    until = parse_time(args.until) if args.until else None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in STOP_SIGNALS}

    def report(tick: TickReport) -> None:
        rows = ", ".join(f"+{n} {table}" for table, n in tick.rows.items())
        print(f"written to {tick.written_until.isoformat()}  {rows or 'nothing due'}", flush=True)

    print(f"running {db.display_url} from {db.last_timestamp()} at speed {args.speed}", flush=True)
    try:
        ticks = run_live(
            db,
            speed=args.speed,
            tick_s=args.tick,
            max_ticks=args.max_ticks,
            until=until,
            stop=stop,
            on_tick=report,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"stopped after {ticks} tick(s); plant written until {db.last_timestamp()}")


def _scenario(args: argparse.Namespace) -> None:
    db = PlantDB(args.db)
    start = parse_time(args.at, db.last_timestamp() or db.config().epoch)
    spec = db.add_scenario(args.name, start, parse_params(args.params))
    print(f"scenario {spec.name} from {spec.start.isoformat()} {json.dumps(spec.params)}")


def _info(args: argparse.Namespace) -> None:
    db = PlantDB(args.db)
    config = db.config()
    print(f"plant {db.display_url}")
    print(json.dumps(json.loads(config.to_json()), indent=2))
    span = db.time_range()
    readings = "none" if span is None else f"{span[0].isoformat()} .. {span[1].isoformat()}"
    print(f"  readings    {readings}")
    print(f"  written to  {db.last_timestamp()}")
    _print_counts(db)


def _check(args: argparse.Namespace) -> None:
    """The active plant definition against the plant database: what it reads is there."""
    from mfg_assets.plant.definition import (
        active_definition_file,
        check_source,
        load_definition,
        resolve_definition,
    )
    from mfg_assets.settings import get_settings

    if args.plant:  # confined like MFG_PLANT: shipped or MFG_PLANT_DEFINITIONS_DIR
        path = resolve_definition(args.plant, get_settings().mfg_plant_definitions_dir)
    else:
        path = active_definition_file()
    plant = load_definition(path)  # a DefinitionError names the field and the file
    check_source(plant, args.db, path.name)
    sensors = ", ".join(s.name for s in plant.sensors)
    print(f"plant {plant.name} ({path}) matches {mask_url(args.db)}: sensors {sensors}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mfg-plant", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    db_help = "SQLAlchemy URL of the plant database (default: PLANT_DB_URL or the SQLite plant)"

    seed = commands.add_parser("seed", help="write N days of history (replaces the plant)")
    seed.add_argument("--db", help=db_help)
    seed.add_argument("--days", type=float, default=7.0)
    seed.add_argument("--machines", type=int, default=20)
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--interval", type=int, default=10, help="sample interval in seconds")
    seed.add_argument("--end", help="end of history: ISO time or now (default: this hour)")
    seed.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME@TIME[:k=v,...]",
        help=f"scenario switch ({', '.join(sorted(SCENARIOS))}); TIME is ISO or +Nd after start",
    )
    seed.add_argument("--clean", action="store_true", help="no dirt (missing, NaN, spikes, ...)")
    seed.set_defaults(handler=_seed)

    run = commands.add_parser("run", help="continue the stored plant live")
    run.add_argument("--db", help=db_help)
    run.add_argument("--speed", type=float, default=1.0, help="plant seconds per wall second")
    run.add_argument("--tick", type=float, default=5.0, help="seconds between writes")
    stop = run.add_mutually_exclusive_group()
    stop.add_argument("--max-ticks", type=int)
    stop.add_argument("--until", help="stop at this plant time (ISO)")
    run.set_defaults(handler=_run)

    scenario = commands.add_parser("scenario", help="switch a scenario on in the stored plant")
    scenario.add_argument("name", help=", ".join(sorted(SCENARIOS)))
    scenario.add_argument("--at", required=True, help="+2h, +30m (after the last timestamp) or ISO")
    scenario.add_argument("--db", help=db_help)
    scenario.add_argument("params", nargs="*", metavar="k=v")
    scenario.set_defaults(handler=_scenario)

    info = commands.add_parser("info", help="show config, row counts and time range")
    info.add_argument("--db", help=db_help)
    info.set_defaults(handler=_info)

    check = commands.add_parser(
        "check", help="check the plant definition against the plant database (exit 2 if not)"
    )
    check.add_argument("--db", help=db_help)
    check.add_argument("--plant", help="definition name or YAML path (default: MFG_PLANT)")
    check.set_defaults(handler=_check)

    add_import_command(commands, db_help)
    return parser


def _known_errors() -> tuple[type[BaseException], ...]:
    import adbc_driver_manager
    import psycopg

    return (
        ValueError,
        LookupError,
        OSError,
        SQLAlchemyError,
        psycopg.Error,
        adbc_driver_manager.Error,
    )


def _one_line(exc: BaseException, url: str) -> str:
    reason = getattr(exc, "orig", None) or exc
    line = (str(reason).strip().splitlines() or [type(reason).__name__])[0]
    try:
        password = make_url(url).password
    except ArgumentError:
        password = None
    return line.replace(str(password), "***") if password else line


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "scenario":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "scenario":
        args.params = [*args.params, *extra]
    args.db = args.db or plant_db_url()
    try:
        args.handler(args)
    except _known_errors() as exc:
        where = "" if isinstance(exc, ValueError | LookupError) else f"{mask_url(args.db)}: "
        print(f"mfg-plant {args.command}: {where}{_one_line(exc, args.db)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
