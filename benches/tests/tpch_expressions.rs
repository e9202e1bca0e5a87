//! TPC-H Q1's and Q6's expressions through Cinder's host path (translated programs, the host
//! interpreter and filter) against DataFusion running the same SQL on the same lineitem rows.
//! The device path is held to this host path by `cinder gpu-check`.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{Decimal128Type, Field, Schema};
use cinder_kernels::expr::program_from_sql;
use cinder_kernels::filter::{filter_host, project_host, results_schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use tpchgen::generators::LineItemGenerator;
use tpchgen_arrow::LineItemArrow;

fn lineitem() -> RecordBatch {
    let batches: Vec<RecordBatch> = LineItemArrow::new(LineItemGenerator::new(0.01, 1, 1))
        .map(|b| b.expect("generated lineitem"))
        .collect();
    concat_batches(&batches[0].schema(), &batches).expect("one batch")
}

fn decimal_sum(batch: &RecordBatch, column: usize) -> i128 {
    let values = batch.column(column).as_primitive::<Decimal128Type>();
    values.iter().flatten().sum()
}

#[tokio::test]
async fn q6_on_the_host_path_matches_datafusion() {
    let lineitem = lineitem();
    let schema = lineitem.schema();
    let predicate = program_from_sql(
        "l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1994-01-01' + INTERVAL '1' YEAR \
         AND l_discount BETWEEN 0.06 - 0.01 AND 0.06 + 0.01 AND l_quantity < 24",
        &schema,
    )
    .unwrap();
    let revenue = program_from_sql("l_extendedprice * l_discount", &schema).unwrap();
    let kept = filter_host(&predicate, &lineitem).unwrap();
    let out_schema = Arc::new(Schema::new(vec![Field::new(
        "revenue",
        revenue.result_arrow_type(),
        true,
    )]));
    let projected = project_host(&[revenue], &kept, out_schema).unwrap();
    let ours = decimal_sum(&projected, 0);

    let ctx = SessionContext::new();
    let table = MemTable::try_new(Arc::clone(&schema), vec![vec![lineitem.clone()]]).unwrap();
    ctx.register_table("lineitem", Arc::new(table)).unwrap();
    let rows = ctx
        .sql(
            "select count(*), sum(l_extendedprice * l_discount) from lineitem \
             where l_shipdate >= date '1994-01-01' \
             and l_shipdate < date '1994-01-01' + interval '1' year \
             and l_discount between 0.06 - 0.01 and 0.06 + 0.01 and l_quantity < 24",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let count = rows[0]
        .column(0)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0);
    assert!(count > 0, "Q6 keeps rows at SF0.01");
    assert_eq!(kept.num_rows() as i64, count);
    assert_eq!(ours, decimal_sum(&rows[0], 1));
}

#[tokio::test]
async fn q1_charges_on_the_host_path_match_datafusion() {
    let lineitem = lineitem();
    let schema = lineitem.schema();
    let predicate = program_from_sql(
        "l_shipdate <= DATE '1998-12-01' - INTERVAL '90' DAY",
        &schema,
    )
    .unwrap();
    let exprs = [
        "l_extendedprice * (1 - l_discount)",
        "l_extendedprice * (1 - l_discount) * (1 + l_tax)",
    ]
    .map(|sql| program_from_sql(sql, &schema).unwrap());
    let kept = filter_host(&predicate, &lineitem).unwrap();
    let out_schema = results_schema(&exprs);
    let projected = project_host(&exprs, &kept, out_schema).unwrap();

    let ctx = SessionContext::new();
    let table = MemTable::try_new(Arc::clone(&schema), vec![vec![lineitem.clone()]]).unwrap();
    ctx.register_table("lineitem", Arc::new(table)).unwrap();
    let rows = ctx
        .sql(
            "select sum(l_extendedprice * (1 - l_discount)), \
             sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) from lineitem \
             where l_shipdate <= date '1998-12-01' - interval '90' day",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert!(projected.num_rows() > 0);
    assert_eq!(projected.column(0).null_count(), 0);
    assert_eq!(decimal_sum(&projected, 0), decimal_sum(&rows[0], 0));
    assert_eq!(decimal_sum(&projected, 1), decimal_sum(&rows[0], 1));
}
