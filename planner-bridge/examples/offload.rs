//! Adding Cinder to a DataFusion application: one call on the session builder, then plain
//! SQL. EXPLAIN shows which operators Cinder runs and why the others stay on the CPU.
//!
//! ```text
//! cargo run -p cinder-planner --example offload            # the host reference path
//! cargo run -p cinder-planner --example offload -- auto    # a GPU if there is one
//! ```

use std::sync::Arc;

use datafusion::arrow::array::{Decimal128Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::print_batches;
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;

use cinder_planner::{CinderConfig, placements, with_cinder};

#[tokio::main]
async fn main() -> Result<()> {
    // Cinder's settings live in DataFusion's configuration (`cinder.*`); SQL can change them.
    let mut config = CinderConfig::default();
    config.device = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "host".to_string())
        .parse()?;
    config.min_rows = 0; // move operators even on this tiny table
    let state = with_cinder(SessionStateBuilder::new().with_default_features(), config).build();
    let ctx = SessionContext::new_with_state(state);

    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("price", DataType::Decimal128(15, 2), false),
        Field::new("discount", DataType::Decimal128(15, 2), false),
        Field::new("mode", DataType::Utf8, false),
    ]));
    let rows = 10_000i64;
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values(0..rows)),
            Arc::new(
                Decimal128Array::from_iter_values((0..rows).map(|i| i128::from(i * 37 % 100_000)))
                    .with_precision_and_scale(15, 2)?,
            ),
            Arc::new(
                Decimal128Array::from_iter_values((0..rows).map(|i| i128::from(i % 11)))
                    .with_precision_and_scale(15, 2)?,
            ),
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| ["AIR", "MAIL", "SHIP", "TRUCK"][(i % 4) as usize]),
            )),
        ],
    )?;
    ctx.register_table(
        "items",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;

    let sql = "SELECT mode, sum(price * (1 - discount)) AS revenue FROM items \
               WHERE discount BETWEEN 0.02 AND 0.05 AND mode IN ('AIR', 'MAIL') \
               GROUP BY mode ORDER BY mode";
    let frame = ctx.sql(sql).await?;
    let plan = frame.clone().create_physical_plan().await?;
    println!(
        "{}",
        datafusion::physical_plan::displayable(plan.as_ref()).indent(true)
    );
    for placement in placements(&plan) {
        match placement.reason {
            None => println!("on Cinder: {}", placement.operator),
            Some(reason) => println!("on the CPU: {}: {reason}", placement.operator),
        }
    }
    print_batches(&frame.collect().await?)?;
    Ok(())
}
