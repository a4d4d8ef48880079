//! Train jobs on vertically partitioned data (`data.split = "vertical"`): each party's CSV holds
//! some columns of the same records, one party holds the labels. The three parties run
//! in one process here; `tests/cli.rs` runs the same over mutual TLS as three processes.

use std::path::Path;
use trefoil::deploy::{
    DemoModel, demo_model_job_text, write_sample_data, write_vertical_sample_data,
};
use trefoil::job::{Job, Partition};
use trefoil::run::{JobReport, run_job};

/// Runs `job` as the three parties; each party's report or error message.
fn run(job: &Job) -> [Result<JobReport, String>; 3] {
    mpc_nn::run_3pc(|p| Ok(run_job(p, job, None, &mut |_| {}).map_err(|e| e.to_string())))
        .expect("the harness runs")
}

fn job(dir: &Path, text: &str) -> Job {
    Job::from_toml_str(text, dir).expect("valid job")
}

/// The sample data split by columns, a logistic-regression job over it, in `dir`.
fn vertical_setup(dir: &Path) -> String {
    write_vertical_sample_data(dir, 7).expect("sample data");
    demo_model_job_text(DemoModel::LogisticRegression, 5, 0, Partition::Vertical)
}

fn errors(r: &[Result<JobReport, String>; 3]) -> Vec<String> {
    r.iter()
        .map(|x| match x {
            Ok(rep) => panic!("party {} succeeded: {rep:?}", rep.party),
            Err(e) => e.clone(),
        })
        .collect()
}

#[test]
fn vertical_columns_train_like_one_party_holding_every_column() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = vertical_setup(dir);
    let three = run(&job(dir, &text));
    // The same records with every column at party 2 (a "vertical" split of one file):
    // the pooled matrix, the record split and the batch order are the same, so the model
    // trained on shares must reach the same accuracy.
    let whole = dir.join("whole");
    let files = write_sample_data(&whole, 1, 7).unwrap();
    std::fs::rename(&files[0], whole.join("hospital2.csv")).unwrap();
    let one_text = text
        .replace(
            "party = 0\ncsv = \"hospital0.csv\"\n",
            "party = 2\ncsv = \"hospital2.csv\"\n",
        )
        .replace(
            "[[data.sources]]\nparty = 1\ncsv = \"hospital1.csv\"\n\n",
            "",
        );
    let one_text = one_text.replacen(
        "[[data.sources]]\nparty = 2\ncsv = \"hospital2.csv\"\n\n",
        "",
        1,
    );
    assert_eq!(
        one_text.matches("[[data.sources]]").count(),
        1,
        "{one_text}"
    );
    let one = run(&job(&whole, &one_text));
    let (mut acc3, mut acc1) = (Vec::new(), Vec::new());
    for (a, b) in three.iter().zip(&one) {
        let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
        assert_eq!((a.train_rows, a.test_rows), (410, 102), "{a:?}");
        assert_eq!((b.train_rows, b.test_rows), (410, 102), "{b:?}");
        acc3.push(a.accuracy.unwrap());
        acc1.push(b.accuracy.unwrap());
        // only the model owner (party 0) receives the model
        assert_eq!(a.model_written.is_some(), a.party == 0, "{a:?}");
    }
    assert!(acc3.iter().all(|&a| a == acc3[0]), "{acc3:?}");
    assert!(acc3[0] >= 0.93, "vertical accuracy {acc3:?}");
    // one record of 102 either way (last-bit rounding of the truncations differs by seed)
    assert!((acc3[0] - acc1[0]).abs() <= 0.011, "{acc3:?} vs {acc1:?}");
    // the model has the 30 inputs in party order
    let model = trefoil::nn::io::import_safetensors(&dir.join("model-logreg.safetensors")).unwrap();
    let w = &model.iter().find(|(n, _)| n.ends_with("weight")).unwrap().1;
    assert!(w.shape().contains(&30), "{:?}", w.shape());
}

#[test]
fn vertical_files_that_do_not_fit_fail_every_party_with_the_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = vertical_setup(dir);
    let read = |i: usize| std::fs::read_to_string(dir.join(format!("hospital{i}.csv"))).unwrap();
    let (h0, h1, h2) = (read(0), read(1), read(2));
    let put = |i: usize, t: &str| std::fs::write(dir.join(format!("hospital{i}.csv")), t).unwrap();
    let expect = |what: &str| {
        for e in errors(&run(&job(dir, &text))) {
            assert!(e.contains(what), "want {what:?} in: {e}");
        }
    };
    // a record missing at one hospital
    let mut short: Vec<&str> = h1.lines().collect();
    short.pop();
    put(1, &(short.join("\n") + "\n"));
    expect("party 1's CSV has 511 records, party 0's has 512");
    put(1, &h1);
    // labels at two hospitals
    let label = h2
        .lines()
        .map(|l| l.rsplit(',').next().unwrap())
        .collect::<Vec<_>>();
    let with_label: Vec<String> = h0
        .lines()
        .zip(&label)
        .map(|(l, y)| format!("{l},{y}"))
        .collect();
    put(0, &(with_label.join("\n") + "\n"));
    expect("parties [0, 2] all have the label column \"diagnosis\"");
    put(0, &h0);
    // no labels anywhere
    let no_label: Vec<String> = h2
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect();
    put(2, &(no_label.join("\n") + "\n"));
    expect("no party's CSV has the label column \"diagnosis\"");
    put(2, &h2);
    // a column held twice
    let first0 = h0
        .lines()
        .next()
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let twice: Vec<String> = h0
        .lines()
        .zip(h1.lines())
        .map(|(a, b)| format!("{},{b}", a.split(',').next().unwrap()))
        .collect();
    put(1, &(twice.join("\n") + "\n"));
    expect(&format!(
        "column {first0:?} is in the files of parties 0 and 1"
    ));
    put(1, &h1);
    // data.features naming a column nobody has
    let bad = text.replace(
        "[data]\n",
        "[data]\nfeatures = [\"mean radius\", \"no such column\"]\n",
    );
    for e in errors(&run(&job(dir, &bad))) {
        assert!(
            e.contains("column \"no such column\" of data.features is in no party's file"),
            "{e}"
        );
    }
    // the files are fine again: the job runs
    assert!(run(&job(dir, &text)).iter().all(Result::is_ok));
}

#[test]
fn vertical_jobs_refuse_owners_two_files_per_party_and_unknown_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = vertical_setup(dir);
    let key = |t: &str| match Job::from_toml_str(t, dir) {
        Err(trefoil::Error::JobKey { key, .. }) => key,
        other => panic!("expected a key error, got {other:?}"),
    };
    let two = text.replace("party = 1\n", "party = 0\n");
    assert_eq!(key(&two), "data.sources[1].party");
    let owners = text.replace(
        "split = \"vertical\"\n",
        "split = \"vertical\"\nowners = [0]\n",
    ) + "\n[intake]\naddresses = [\"127.0.0.1:1\", \"127.0.0.1:2\", \"127.0.0.1:3\"]\n";
    assert_eq!(key(&owners), "data.owners");
    let bad_value = text.replace("split = \"vertical\"", "split = \"diagonal\"");
    assert!(matches!(
        Job::from_toml_str(&bad_value, dir),
        Err(trefoil::Error::JobFile { detail, .. }) if detail.contains("diagonal")
    ));
}
