//! `ferry-bench MODEL TABLE THREADS REPEATS`: loads the table into memory as one batch,
//! then times `Evaluator::predict` on all of it, like the libraries' own predict calls
//! are timed in bench/bench.py. Prints one JSON object.

use std::time::Instant;

use arrow_array::RecordBatch;
use ferry_eval::Evaluator;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: ferry-bench MODEL TABLE THREADS REPEATS");
        std::process::exit(2);
    }
    let (model_path, table, threads, repeats) = (
        &args[1],
        &args[2],
        args[3].parse::<usize>().expect("THREADS"),
        args[4].parse::<usize>().expect("REPEATS"),
    );
    let bytes = std::fs::read(model_path).expect("model file");
    let model = ferry_import::import(&bytes, &Default::default()).expect("model");
    let options = ferry_io::ReadOptions {
        batch_size: 1 << 20,
        keep: Vec::new(),
    };
    let batches: Vec<RecordBatch> = ferry_io::open_reader(table, &model, &options)
        .expect("table")
        .map(|b| b.expect("batch"))
        .collect();
    let batch =
        arrow_select::concat::concat_batches(&batches[0].schema(), &batches).expect("concat");
    let evaluator = Evaluator::new(&model).expect("evaluator");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    // Warm-up on a slice, as the Python side does.
    pool.install(|| evaluator.predict(&batch.slice(0, batch.num_rows().min(10_000))))
        .expect("warm-up");
    let mut times = Vec::new();
    let mut checksum = 0.0;
    for _ in 0..repeats {
        let start = Instant::now();
        let predictions = pool.install(|| evaluator.predict(&batch)).expect("predict");
        times.push(start.elapsed().as_secs_f64());
        checksum = predictions.values.iter().take(1000).sum::<f64>();
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "rows": batch.num_rows(),
            "threads": threads,
            "times": times,
            "min": sorted[0],
            "median": sorted[sorted.len() / 2],
            "checksum": checksum,
        })
    );
}
