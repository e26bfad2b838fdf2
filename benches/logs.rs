//! Log template mining throughput on HDFS-like messages, one core and two shards merged.
//! Run with `cargo bench -p faultlens-benches --bench logs`.
//!
//! Test mode (`cargo test --benches`) shrinks the input; `--bench` uses the stated size.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faultlens::detect::logs::TemplateMiner;

fn full_size() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Messages shaped like HDFS DataNode and NameNode lines (the `<Content>` part), seeded.
pub fn hdfs_like(n: usize, seed: u64) -> Vec<String> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let r = next();
            let blk = (r >> 1) as i64 * if r & 1 == 0 { 1 } else { -1 };
            let ip = format!("10.251.{}.{}", (r >> 8) % 256, (r >> 16) % 256);
            match r % 8 {
                0 => format!("Receiving block blk_{blk} src: /{ip}:{} dest: /{ip}:50010", (r >> 24) % 60000),
                1 => format!("PacketResponder {} for block blk_{blk} terminating", r % 3),
                2 => format!("Received block blk_{blk} of size {} from /{ip}", (r >> 20) % 67_108_864),
                3 => format!("BLOCK* NameSystem.addStoredBlock: blockMap updated: {ip}:50010 is added to blk_{blk} size {}", (r >> 20) % 67_108_864),
                4 => format!("Verification succeeded for blk_{blk}"),
                5 => format!("Deleting block blk_{blk} file /mnt/hadoop/dfs/data/current/subdir{}/blk_{blk}", r % 64),
                6 => format!("BLOCK* NameSystem.allocateBlock: /user/root/rand/_temporary/_task_{}_0001_m_{:06}_0/part-{:05}. blk_{blk}", 200811092030u64, r % 1000, r % 1000),
                _ => format!("{ip}:50010 Served block blk_{blk} to /{ip}"),
            }
        })
        .collect()
}

fn mining(c: &mut Criterion) {
    let n = if full_size() { 1_000_000 } else { 20_000 };
    let lines = hdfs_like(n, 7);
    let mut g = c.benchmark_group("logs");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.bench_function("mine_one_core", |b| {
        b.iter(|| {
            let mut m = TemplateMiner::default();
            for l in &lines {
                m.add(l);
            }
            m.finish();
            m.templates().len()
        })
    });
    // two shards mined on two threads, then merged
    g.bench_function("mine_two_shards_merged", |b| {
        b.iter(|| {
            let (a, bb) = lines.split_at(n / 2);
            let (ma, mb) = std::thread::scope(|s| {
                let ha = s.spawn(|| {
                    let mut m = TemplateMiner::default();
                    a.iter().for_each(|l| {
                        m.add(l);
                    });
                    m
                });
                let hb = s.spawn(|| {
                    let mut m = TemplateMiner::default();
                    bb.iter().for_each(|l| {
                        m.add(l);
                    });
                    m
                });
                (ha.join().unwrap(), hb.join().unwrap())
            });
            let mut m = ma;
            m.merge(&mb);
            m.templates().len()
        })
    });
    g.finish();
}

criterion_group!(benches, mining);
criterion_main!(benches);
