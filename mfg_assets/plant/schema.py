"""Plant database tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

``sensor_readings`` is long format as a time-series database keeps it; ``quality_inspections``
and ``machine_events`` are what the MES records; ``machines`` is the MES machine master (a
reading from a machine id not in it is an unknown machine); ``plant_meta`` holds the
simulator's parameters so a live run continues the seeded plant.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

sensor_readings = Table(
    "sensor_readings",
    metadata,
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("machine_id", String(16), nullable=False),
    Column("sensor_type", String(32), nullable=False),
    Column("value", Float, nullable=True),
    Index("ix_sensor_readings_ts", "ts"),
)

quality_inspections = Table(
    "quality_inspections",
    metadata,
    Column("inspection_time", DateTime(timezone=True), nullable=False),
    Column("product_id", String(48), nullable=False),
    Column("machine_id", String(16), nullable=False),
    Column("defect_type", String(16), nullable=False),
    Column("severity", Float, nullable=False),
    Column("image_uri", Text, nullable=True),
    Index("ix_quality_inspections_time", "inspection_time"),
)

machine_events = Table(
    "machine_events",
    metadata,
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("machine_id", String(16), nullable=False),
    Column("event_type", String(16), nullable=False),
    Index("ix_machine_events_ts", "ts"),
)

machines = Table(
    "machines",
    metadata,
    Column("machine_id", String(16), primary_key=True),
    Column("machine_type", String(32), nullable=False),
    Column("line", String(16), nullable=False),
)

# Machine attributes beyond ``machines``' columns (an imported plant's model, age, ...), long
# format as the plant definition names them; values as text, typed by the definition.
machine_attributes = Table(
    "machine_attributes",
    metadata,
    Column("machine_id", String(16), primary_key=True),
    Column("attribute", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)

plant_meta = Table(
    "plant_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# SQLite has no timestamp type: the plant stores UTC as text in SQLAlchemy's own DateTime format,
# so range filters compare lexicographically. Every writer and reader uses this one format.
SQLITE_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
