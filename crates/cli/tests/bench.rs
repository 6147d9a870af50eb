//! `ustack bench paths --sim --quick`: the simulator's grid (ustack to ustack, virtual time)
//! runs to the end and writes a goodput for every cell, none above what the link carries.
//! No threshold on the numbers: they are a regression table to read, not a gate.

use std::process::Command;

#[test]
fn the_quick_simulated_path_grid_runs_every_cell() {
    let dir = std::env::temp_dir().join(format!("ustack-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let json = dir.join("paths.json");
    let out = Command::new(env!("CARGO_BIN_EXE_ustack"))
        .args(["bench", "paths", "--sim", "--quick", "--json"])
        .arg(&json)
        .output()
        .expect("running ustack bench paths");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json).expect("the JSON file");
    std::fs::remove_dir_all(&dir).expect("removing the temporary directory");

    // The quick grid: 2 rates x 2 round trips x 3 losses.
    let number = |key: &str| -> Vec<f64> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(&format!("\"{key}\": ")))
            .map(|v| v.trim_end_matches(',').parse().unwrap_or_else(|_| panic!("{key}: {v}")))
            .collect()
    };
    let (rates, goodputs) = (number("rate_mbps"), number("goodput_mbps"));
    assert_eq!(goodputs.len(), 12, "{text}");
    for (rate, goodput) in rates.iter().zip(&goodputs) {
        assert!(*goodput > 0.0 && *goodput <= rate * 1448.0 / 1500.0, "{goodput} at {rate}");
    }
    // The table on stdout has a row per cell.
    assert_eq!(stdout.lines().filter(|l| l.contains(" Mbit/s ")).count(), 12, "{stdout}");
}
