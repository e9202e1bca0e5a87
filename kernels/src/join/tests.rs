//! The host join against DataFusion's own hash join on the same inputs, for every join type.

use std::sync::Arc;

use arrow::array::{Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::*;
use crate::expr::program_from_sql;

/// Rows of a batch as sorted text lines (joins have no defined order).
fn sorted_lines(batches: &[RecordBatch]) -> Vec<String> {
    let text = pretty_format_batches(batches).unwrap().to_string();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(1) // the header
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

fn side(name: &str, keys: &[Option<i64>], strings: bool) -> RecordBatch {
    let n = keys.len();
    let k: ArrayRef = Arc::new(Int64Array::from(keys.to_vec()));
    let v: ArrayRef = Arc::new(Int32Array::from_iter(
        (0..n).map(|i| (i % 5 != 3).then_some((i as i32 * 37) % 200)),
    ));
    let s: ArrayRef = Arc::new(StringArray::from_iter(keys.iter().map(|k| {
        k.map(|k| {
            if strings {
                format!("s{}", k % 4)
            } else {
                format!("s{k}")
            }
        })
    })));
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new(format!("{name}k"), DataType::Int64, true),
            Field::new(format!("{name}v"), DataType::Int32, true),
            Field::new(format!("{name}s"), DataType::Utf8, true),
        ])),
        vec![k, v, s],
    )
    .unwrap()
}

const KINDS: [(JoinKind, &str); 8] = [
    (JoinKind::Inner, "JOIN"),
    (JoinKind::Left, "LEFT JOIN"),
    (JoinKind::Right, "RIGHT JOIN"),
    (JoinKind::Full, "FULL JOIN"),
    (JoinKind::LeftSemi, "LEFT SEMI JOIN"),
    (JoinKind::LeftAnti, "LEFT ANTI JOIN"),
    (JoinKind::RightSemi, "RIGHT SEMI JOIN"),
    (JoinKind::RightAnti, "RIGHT ANTI JOIN"),
];

/// The host join of `l` (build) and `r` (probe) on key column `key` of each, with an optional
/// filter over (lv, rv), in chunks of `budget` pairs.
#[allow(clippy::too_many_arguments)]
fn host_join(
    kind: JoinKind,
    l: &RecordBatch,
    r: &RecordBatch,
    key: usize,
    nulls: NullMatch,
    filter: Option<&str>,
    budget: usize,
    schema: &SchemaRef,
) -> Vec<RecordBatch> {
    let table = BuildTable::new(&[Arc::clone(l.column(key))], l.num_rows(), nulls).unwrap();
    let filter = filter.map(|sql| {
        let schema = Arc::new(Schema::new(vec![
            Field::new("lv", DataType::Int32, true),
            Field::new("rv", DataType::Int32, true),
        ]));
        JoinFilterProgram {
            program: program_from_sql(sql, &schema).unwrap(),
            columns: vec![(Side::Build, 1), (Side::Probe, 1)],
            schema,
        }
    });
    let mut assembler = JoinAssembler::new(kind, l.num_rows());
    let mut out = Vec::new();
    // Probe in two batches, as a stream would.
    let half = r.num_rows() / 2;
    for probe in [r.slice(0, half), r.slice(half, r.num_rows() - half)] {
        let mut prober = table
            .prober(&[Arc::clone(probe.column(key))], probe.num_rows())
            .unwrap();
        let mut probe_matched = vec![false; probe.num_rows()];
        while let Some(pairs) = prober.next_chunk(budget) {
            assert!(pairs.build.len() <= budget);
            let kept = match &filter {
                Some(f) => f.keep(l, &probe, &pairs).unwrap(),
                None => vec![true; pairs.build.len()],
            };
            let indices = assembler.chunk(&pairs, &kept, &mut probe_matched);
            out.push(gather(kind, l, &probe, &indices, schema).unwrap());
        }
    }
    out.push(gather(kind, l, r, &assembler.finish(), schema).unwrap());
    out
}

async fn check(l: RecordBatch, r: RecordBatch, what: &str) {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    ctx.register_table(
        "l",
        Arc::new(MemTable::try_new(l.schema(), vec![vec![l.clone()]]).unwrap()),
    )
    .unwrap();
    ctx.register_table(
        "r",
        Arc::new(MemTable::try_new(r.schema(), vec![vec![r.clone()]]).unwrap()),
    )
    .unwrap();
    let conditions: [(&str, Option<&str>, usize, NullMatch); 5] = [
        ("l.lk = r.rk", None, 0, NullMatch::NullEqualsNothing),
        ("l.ls = r.rs", None, 2, NullMatch::NullEqualsNothing),
        (
            "l.lk = r.rk AND l.lv + r.rv > 150",
            Some("lv + rv > 150"),
            0,
            NullMatch::NullEqualsNothing,
        ),
        (
            "l.lk = r.rk AND l.lv > 1000",
            Some("lv > 1000"),
            0,
            NullMatch::NullEqualsNothing,
        ),
        (
            "l.lk IS NOT DISTINCT FROM r.rk",
            None,
            0,
            NullMatch::NullEqualsNull,
        ),
    ];
    for (kind, sql_kind) in KINDS {
        for (on, filter, key, nulls) in conditions {
            let sql = format!("SELECT * FROM l {sql_kind} r ON {on}");
            let df = ctx.sql(&sql).await.unwrap();
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let plan = df.clone().create_physical_plan().await.unwrap();
            let text = datafusion::physical_plan::displayable(plan.as_ref())
                .indent(true)
                .to_string();
            assert!(text.contains("HashJoinExec"), "{sql}: {text}");
            let expected = sorted_lines(&df.collect().await.unwrap());
            for budget in [3, 1 << 20] {
                let got = host_join(kind, &l, &r, key, nulls, filter, budget, &schema);
                assert_eq!(
                    sorted_lines(&got),
                    expected,
                    "{what}: {sql} (budget {budget})"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_join_type_matches_datafusion() {
    let skewed: Vec<Option<i64>> = (0..300)
        .map(|i| (i % 11 != 0).then_some(if i % 3 == 0 { 7 } else { i % 40 }))
        .collect();
    let probe: Vec<Option<i64>> = (0..250)
        .map(|i| (i % 13 != 0).then_some((i * 7) % 60))
        .collect();
    check(
        side("l", &skewed, true),
        side("r", &probe, true),
        "skewed keys with nulls",
    )
    .await;
    let dup = vec![Some(5); 40];
    check(
        side("l", &dup, false),
        side("r", &dup[..30], false),
        "all-duplicate keys",
    )
    .await;
    let none: Vec<Option<i64>> = (1000..1100).map(Some).collect();
    check(
        side("l", &probe, false),
        side("r", &none, false),
        "no matches",
    )
    .await;
    check(
        side("l", &[], false),
        side("r", &probe, false),
        "empty build side",
    )
    .await;
    check(
        side("l", &probe, false),
        side("r", &[], false),
        "empty probe side",
    )
    .await;
    let nulls = vec![None; 10];
    check(
        side("l", &nulls, false),
        side("r", &nulls, false),
        "only null keys",
    )
    .await;
}

#[test]
fn dense_range_takes_one_small_integer_key_whose_nulls_match_nothing() {
    use arrow::array::Date32Array;
    let dense: ArrayRef = Arc::new(Int64Array::from(vec![Some(10), None, Some(13), Some(11)]));
    let nothing = NullMatch::NullEqualsNothing;
    assert_eq!(
        dense_range(&[Arc::clone(&dense)], 4, nothing),
        Some((10, 13))
    );
    assert_eq!(
        dense_range(&[Arc::clone(&dense)], 4, NullMatch::NullEqualsNull),
        None
    );
    assert_eq!(
        dense_range(&[Arc::clone(&dense), Arc::clone(&dense)], 4, nothing),
        None
    );
    // At most four values per build row (or 4096).
    let sparse: ArrayRef = Arc::new(Int64Array::from(vec![0, 1 << 40]));
    assert_eq!(dense_range(&[sparse], 2, nothing), None);
    let wide: ArrayRef = Arc::new(Int64Array::from(
        (0..10_000).map(|i| i * 5).collect::<Vec<_>>(),
    ));
    assert_eq!(dense_range(&[Arc::clone(&wide)], 10_000, nothing), None);
    let fits: ArrayRef = Arc::new(Int64Array::from(
        (0..10_000).map(|i| i * 4).collect::<Vec<_>>(),
    ));
    assert_eq!(dense_range(&[fits], 10_000, nothing), Some((0, 39_996)));
    let dates: ArrayRef = Arc::new(Date32Array::from(vec![9000, 9100]));
    assert_eq!(dense_range(&[dates], 2, nothing), Some((9000, 9100)));
    let extremes: ArrayRef = Arc::new(Int64Array::from(vec![i64::MIN, i64::MAX]));
    assert_eq!(dense_range(&[extremes], 2, nothing), None);
    let strings: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
    assert_eq!(dense_range(&[strings], 1, nothing), None);
    let empty: ArrayRef = Arc::new(Int64Array::from(Vec::<i64>::new()));
    assert_eq!(dense_range(&[empty], 0, nothing), None);
}

#[test]
fn any_matchable_row_follows_null_key_rows() {
    let ints = |v: Vec<Option<i64>>| Arc::new(Int64Array::from(v)) as ArrayRef;
    let strings = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v)) as ArrayRef;
    let some_match = [
        ints(vec![None, Some(1), Some(2)]),
        strings(vec![Some("a"), None, Some("c")]),
    ];
    let none_match = [
        ints(vec![None, Some(1), Some(2)]),
        strings(vec![Some("a"), None, None]),
    ];
    for (keys, rows, nulls, want) in [
        (&some_match[..], 3, NullMatch::NullEqualsNothing, true),
        (&none_match[..], 3, NullMatch::NullEqualsNothing, false),
        (&none_match[..], 3, NullMatch::NullEqualsNull, true),
        (&some_match[..0], 0, NullMatch::NullEqualsNull, false),
    ] {
        assert_eq!(
            any_matchable_row(keys, rows, nulls),
            want,
            "{keys:?} {nulls:?}"
        );
        if nulls == NullMatch::NullEqualsNothing {
            assert_eq!(null_key_rows(keys, rows).contains(&false), want);
        }
    }
    // Logical nulls, as the host table groups them: a dictionary's null values are null keys.
    let dict: ArrayRef = Arc::new(
        arrow::array::DictionaryArray::<arrow::datatypes::Int32Type>::new(
            Int32Array::from(vec![0, 1]),
            Arc::new(StringArray::from(vec![None::<&str>, None])),
        ),
    );
    assert!(!any_matchable_row(&[dict], 2, NullMatch::NullEqualsNothing));
}
