//! Results of a run: the printed summary's numbers, JSON in the shape of DataFusion's dfbench
//! output (plus a `cinder` section), and an SVG chart of per-query times.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

/// One query's timings.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// Query number, 1-22.
    pub query: usize,
    /// Wall time of each timed iteration, in milliseconds.
    pub iterations_ms: Vec<f64>,
    /// Rows in the answer.
    pub rows: usize,
}

impl QueryResult {
    /// A query's result.
    pub fn new(query: usize, iterations_ms: Vec<f64>, rows: usize) -> Self {
        Self {
            query,
            iterations_ms,
            rows,
        }
    }

    /// Median of the iterations.
    pub fn median_ms(&self) -> f64 {
        median(&self.iterations_ms)
    }
}

/// One query on DataFusion + Cinder.
#[derive(Debug, Clone, PartialEq)]
pub struct CinderQuery {
    /// Query number, 1-22.
    pub query: usize,
    /// Wall time of each timed iteration, in milliseconds.
    pub iterations_ms: Vec<f64>,
    /// `None` when the answer agrees with the CPU baseline's, else what differs.
    pub mismatch: Option<String>,
    /// Operators Cinder runs in the query's plan.
    pub on_cinder: usize,
    /// Operators Cinder targets in the plan (filters, projections, joins, aggregates).
    pub targeted: usize,
}

impl CinderQuery {
    /// Median of the iterations.
    pub fn median_ms(&self) -> f64 {
        median(&self.iterations_ms)
    }

    /// Whether the query failed on Cinder (it then has no times).
    pub fn failed(&self) -> bool {
        self.iterations_ms.is_empty()
    }

    /// The median, or `None` when the query failed.
    pub fn time_ms(&self) -> Option<f64> {
        (!self.failed()).then(|| self.median_ms())
    }
}

/// The DataFusion + Cinder side of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct CinderRun {
    /// The mode, as `cinder_planner::ExecutionMode` displays it.
    pub mode: String,
    /// Whether its times are a speed claim (cuda) or a correctness path (host).
    pub speed_claim: bool,
    /// Per query, in run order (the same order as the baseline's).
    pub queries: Vec<CinderQuery>,
}

impl CinderRun {
    /// Sum of the per-query medians (queries that failed on Cinder are left out).
    pub fn total_ms(&self) -> f64 {
        self.queries.iter().filter_map(CinderQuery::time_ms).sum()
    }

    /// Geometric mean of the per-query medians (queries that failed are left out).
    pub fn geomean_ms(&self) -> f64 {
        geomean(self.queries.iter().filter_map(CinderQuery::time_ms))
    }

    /// Queries that failed on Cinder.
    pub fn failures(&self) -> usize {
        self.queries.iter().filter(|q| q.failed()).count()
    }

    /// Queries whose answers differ from the baseline's.
    pub fn mismatches(&self) -> usize {
        self.queries.iter().filter(|q| q.mismatch.is_some()).count()
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn geomean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut log_sum, mut n) = (0.0, 0usize);
    for v in values {
        log_sum += v.max(1e-6).ln();
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        (log_sum / n as f64).exp()
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// Scale factor.
    pub scale: f64,
    /// CPU cores DataFusion used.
    pub cores: usize,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
    /// Per-query results, in run order.
    pub queries: Vec<QueryResult>,
    /// The DataFusion + Cinder run, if there was one.
    pub cinder: Option<CinderRun>,
    /// How the tables were loaded with `--resident` (`None`: both sides read Parquet files
    /// in every query, and Cinder's copies to the device are inside its times).
    pub resident: Option<ResidentLoad>,
}

/// The one-time load of `--resident`, outside every query's timing.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidentLoad {
    /// Reading the Parquet tables into host memory (the baseline's in-memory tables).
    pub read_ms: f64,
    /// Loading Cinder's resident tables from them (onto the device in cuda mode).
    pub cinder_load_ms: Option<f64>,
    /// Where Cinder's tables are: "device" or "host".
    pub cinder_location: Option<String>,
    /// Bytes Cinder's tables hold in device memory.
    pub device_bytes: usize,
}

impl RunReport {
    /// A run's report.
    pub fn new(
        scale: f64,
        cores: usize,
        tables: BTreeMap<String, u64>,
        queries: Vec<QueryResult>,
    ) -> Self {
        Self {
            scale,
            cores,
            tables,
            queries,
            cinder: None,
            resident: None,
        }
    }

    /// Sum of the per-query medians.
    pub fn total_ms(&self) -> f64 {
        self.queries.iter().map(QueryResult::median_ms).sum()
    }

    /// Geometric mean of the per-query medians.
    pub fn geomean_ms(&self) -> f64 {
        geomean(self.queries.iter().map(QueryResult::median_ms))
    }

    /// The JSON document: dfbench's `context` and `queries`, plus `cinder`.
    pub fn to_json(&self) -> serde_json::Value {
        let start_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let queries: Vec<_> = self
            .queries
            .iter()
            .map(|q| {
                json!({
                    "query": format!("Query {}", q.query),
                    "iterations": q.iterations_ms.iter().map(|ms| json!({"elapsed": ms, "row_count": q.rows})).collect::<Vec<_>>(),
                    "start_time": start_time,
                    "success": true,
                })
            })
            .collect();
        json!({
            "context": {
                "benchmark_version": format!("cinder {}", env!("CARGO_PKG_VERSION")),
                "datafusion_version": datafusion::DATAFUSION_VERSION,
                "num_cpus": self.cores,
                "start_time": start_time,
                "arguments": std::env::args().collect::<Vec<_>>(),
            },
            "queries": queries,
            "cinder": {
                "scale_factor": self.scale,
                "tables": self.tables,
                "baseline": "DataFusion on the CPU",
                "resident": self.resident.as_ref().map(|r| json!({
                    "read_ms": r.read_ms,
                    "cinder_load_ms": r.cinder_load_ms,
                    "cinder_location": r.cinder_location,
                    "device_bytes": r.device_bytes,
                })),
                "cinder_run": self.cinder.as_ref().map(|run| json!({
                    "mode": run.mode,
                    "speed_claim": run.speed_claim,
                    "per_query": run.queries.iter().zip(&self.queries).map(|(c, cpu)| json!({
                        "query": c.query,
                        "cinder_ms": c.time_ms(),
                        "iterations_ms": c.iterations_ms,
                        "speedup": c.time_ms().map(|ms| cpu.median_ms() / ms.max(1e-9)),
                        "answers_agree": c.mismatch.is_none(),
                        "mismatch": c.mismatch,
                        "on_cinder": c.on_cinder,
                        "targeted": c.targeted,
                    })).collect::<Vec<_>>(),
                    "total_cinder_ms": run.total_ms(),
                    "geomean_cinder_ms": run.geomean_ms(),
                    "mismatches": run.mismatches(),
                    "failures": run.failures(),
                })),
                "per_query": self.queries.iter().map(|q| json!({
                    "query": q.query,
                    "cpu_ms": q.median_ms(),
                    "rows": q.rows,
                })).collect::<Vec<_>>(),
                "total_cpu_ms": self.total_ms(),
                "geomean_cpu_ms": self.geomean_ms(),
            },
        })
    }

    /// Writes the JSON to `path` and the SVG chart beside it.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(&self.to_json()).expect("report serialises");
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
        let svg = svg_path(path);
        std::fs::write(&svg, self.to_svg()).map_err(|e| format!("{}: {e}", svg.display()))
    }

    /// A bar chart of per-query median times.
    pub fn to_svg(&self) -> String {
        const BAR: f64 = 28.0;
        const HEIGHT: f64 = 240.0;
        const LEFT: f64 = 60.0;
        let max = self
            .queries
            .iter()
            .map(QueryResult::median_ms)
            .fold(0.0, f64::max)
            .max(1e-9);
        let width = LEFT + BAR * self.queries.len() as f64 + 20.0;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" font-family="sans-serif" font-size="10">"#,
            HEIGHT + 60.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="14" font-size="12">TPC-H SF{} per-query median time (ms), DataFusion on {} cores</text>"#,
            self.scale, self.cores
        );
        let _ = writeln!(svg, r#"<text x="4" y="{}">{max:.0} ms</text>"#, 34);
        for (i, q) in self.queries.iter().enumerate() {
            let h = HEIGHT * q.median_ms() / max;
            let x = LEFT + BAR * i as f64;
            let y = 30.0 + HEIGHT - h;
            let _ = writeln!(
                svg,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="#4878a8"><title>q{}: {:.1} ms</title></rect>"##,
                BAR - 6.0,
                q.query,
                q.median_ms()
            );
            let _ = writeln!(
                svg,
                r#"<text x="{x:.1}" y="{:.1}">q{}</text>"#,
                HEIGHT + 45.0,
                q.query
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// The SVG chart's path for a JSON output path: `x.json` -> `x.svg`.
pub fn svg_path(json: &Path) -> PathBuf {
    json.with_extension("svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_totals_and_geomean() {
        let report = RunReport::new(
            0.01,
            2,
            BTreeMap::new(),
            vec![
                QueryResult::new(1, vec![3.0, 1.0, 2.0], 4),
                QueryResult::new(6, vec![8.0, 2.0], 1),
            ],
        );
        assert_eq!(report.queries[0].median_ms(), 2.0);
        assert_eq!(report.queries[1].median_ms(), 5.0);
        assert_eq!(report.total_ms(), 7.0);
        assert!((report.geomean_ms() - 10f64.sqrt()).abs() < 1e-12);
        let json = report.to_json();
        assert_eq!(json["queries"][1]["query"], "Query 6");
        assert_eq!(
            json["queries"][0]["iterations"].as_array().unwrap().len(),
            3
        );
        assert_eq!(json["cinder"]["total_cpu_ms"], 7.0);
        assert!(report.to_svg().contains("<title>q6: 5.0 ms</title>"));
    }

    #[test]
    fn a_query_that_failed_on_cinder_stays_out_of_its_totals() {
        let query = |query, iterations_ms: Vec<f64>, mismatch: Option<&str>| CinderQuery {
            query,
            iterations_ms,
            mismatch: mismatch.map(str::to_string),
            on_cinder: 1,
            targeted: 1,
        };
        let run = CinderRun {
            mode: "cuda (device 0)".to_string(),
            speed_claim: true,
            queries: vec![
                query(1, vec![4.0], None),
                query(6, vec![], Some("failed on Cinder: q6: injected")),
                query(9, vec![9.0], None),
            ],
        };
        assert_eq!(run.total_ms(), 13.0);
        assert!((run.geomean_ms() - 6.0).abs() < 1e-12);
        assert_eq!((run.failures(), run.mismatches()), (1, 1));
        let mut report = RunReport::new(
            0.01,
            2,
            BTreeMap::new(),
            vec![
                QueryResult::new(1, vec![2.0], 4),
                QueryResult::new(6, vec![3.0], 1),
                QueryResult::new(9, vec![3.0], 1),
            ],
        );
        report.cinder = Some(run);
        let json = report.to_json();
        let failed = &json["cinder"]["cinder_run"]["per_query"][1];
        assert!(failed["cinder_ms"].is_null() && failed["speedup"].is_null());
        assert_eq!(json["cinder"]["cinder_run"]["failures"], 1);
    }
}
