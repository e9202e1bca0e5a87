//! The 22 TPC-H queries, as DataFusion's own benchmarks write them (with the specification's
//! validation parameters), embedded from `benches/tpch/queries/`.

const QUERIES: [&str; 22] = [
    include_str!("../../tpch/queries/q1.sql"),
    include_str!("../../tpch/queries/q2.sql"),
    include_str!("../../tpch/queries/q3.sql"),
    include_str!("../../tpch/queries/q4.sql"),
    include_str!("../../tpch/queries/q5.sql"),
    include_str!("../../tpch/queries/q6.sql"),
    include_str!("../../tpch/queries/q7.sql"),
    include_str!("../../tpch/queries/q8.sql"),
    include_str!("../../tpch/queries/q9.sql"),
    include_str!("../../tpch/queries/q10.sql"),
    include_str!("../../tpch/queries/q11.sql"),
    include_str!("../../tpch/queries/q12.sql"),
    include_str!("../../tpch/queries/q13.sql"),
    include_str!("../../tpch/queries/q14.sql"),
    include_str!("../../tpch/queries/q15.sql"),
    include_str!("../../tpch/queries/q16.sql"),
    include_str!("../../tpch/queries/q17.sql"),
    include_str!("../../tpch/queries/q18.sql"),
    include_str!("../../tpch/queries/q19.sql"),
    include_str!("../../tpch/queries/q20.sql"),
    include_str!("../../tpch/queries/q21.sql"),
    include_str!("../../tpch/queries/q22.sql"),
];

/// Q11's marker for its fraction parameter, which the specification sets to 0.0001 / SF.
const Q11_FRACTION: &str = "0.0001 /* __TPCH_Q11_FRACTION__ */";

/// The SQL of query `q` (1-22) at scale factor `scale`.
pub fn sql(q: usize, scale: f64) -> String {
    let text = QUERIES[q - 1];
    if q == 11 {
        text.replace(Q11_FRACTION, &format!("{}", 0.0001 / scale))
    } else {
        text.to_string()
    }
}

/// The statements of a query file, without `--` comments: one for most queries, three for
/// q15 (create view, select, drop view).
pub fn statements(sql: &str) -> Vec<&str> {
    sql.split(';')
        .map(str::trim)
        .filter(|s| {
            s.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        })
        .collect()
}

/// Whether a statement returns rows (a SELECT or WITH query), ignoring leading comments.
pub fn is_query(statement: &str) -> bool {
    let first = statement
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("--"))
        .unwrap_or("")
        .to_ascii_lowercase();
    first.starts_with("select") || first.starts_with("with")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_has_one_answer_statement() {
        for q in 1..=22 {
            let sql = sql(q, 1.0);
            let statements = statements(&sql);
            let expected = if q == 15 && statements.len() == 3 {
                3
            } else {
                1
            };
            assert_eq!(statements.len(), expected, "q{q}");
            assert!(
                statements
                    .iter()
                    .any(|s| s.to_lowercase().contains("select")),
                "q{q}"
            );
        }
    }

    #[test]
    fn q11_fraction_follows_the_scale_factor() {
        assert!(QUERIES[10].contains(Q11_FRACTION));
        assert!(sql(11, 1.0).contains("* 0.0001"));
        assert!(sql(11, 10.0).contains("* 0.00001"));
        assert!(!sql(11, 0.01).contains("__TPCH"));
    }
}
