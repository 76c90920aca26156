"""The retail rules as one DuckDB query (benches/duckdb_retail.sql), for benches/duckdb.sh.

    python benches/duckdb_query.py run EXPORT AS_OF OUT.csv      # the query's answers to a CSV file
    python benches/duckdb_query.py check EXPORT AS_OF DECISIONS  # the answers against idic's JSONL

`check` compares every customer's tier, stage, segments and triggers (idic's fired and
suppressed ones together: the triggers whose condition holds) and exits 1 on any difference.
"""
import pathlib
import sys

import duckdb


def query(export, as_of):
    sql = (pathlib.Path(__file__).parent / "duckdb_retail.sql").read_text()
    return sql.replace("{export}", export).replace("{as_of}", as_of)


def run(export, as_of, out):
    duckdb.connect().execute(f"COPY ({query(export, as_of)}) TO '{out}' (HEADER)")


def check(export, as_of, decisions):
    counts = duckdb.connect().execute(f"""
        WITH sql AS ({query(export, as_of)}),
        idic AS (
            SELECT id, tier, stage, segments,
                list_concat(triggers, list_transform(suppressed, lambda s: s.trigger)) AS triggers
            FROM read_json('{decisions}', format = 'newline_delimited')
        )
        SELECT
            count(*),
            count(*) FILTER (WHERE sql.id IS NULL OR idic.id IS NULL),
            count(*) FILTER (WHERE sql.tier IS DISTINCT FROM idic.tier),
            count(*) FILTER (WHERE sql.stage IS DISTINCT FROM idic.stage),
            count(*) FILTER (WHERE sql.segments IS DISTINCT FROM idic.segments),
            count(*) FILTER (
                WHERE list_sort(sql.triggers) IS DISTINCT FROM list_sort(idic.triggers))
        FROM sql FULL JOIN idic USING (id)
    """).fetchone()
    customers, unmatched, tiers, stages, segments, triggers = counts
    print(
        f"checked {customers} customers: {unmatched} in one answer only, differing in "
        f"tier {tiers}, stage {stages}, segments {segments}, triggers {triggers}"
    )
    return 0 if customers > 0 and unmatched + tiers + stages + segments + triggers == 0 else 1


if __name__ == "__main__":
    command, export, as_of, path = sys.argv[1:5]
    if command == "run":
        run(export, as_of, path)
    else:
        sys.exit(check(export, as_of, path))
