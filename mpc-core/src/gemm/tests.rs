use super::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn mat(&mut self, r: usize, c: usize) -> Array2<u64> {
        Array2::from_shape_simple_fn((r, c), || self.next())
    }
}

fn naive(pairs: &[(ArrayView2<'_, u64>, ArrayView2<'_, u64>)]) -> Array2<u64> {
    let (m, n) = (pairs[0].0.nrows(), pairs[0].1.ncols());
    let mut c = Array2::<u64>::zeros((m, n));
    for (a, b) in pairs {
        for i in 0..m {
            for j in 0..n {
                let mut s = 0u64;
                for p in 0..a.ncols() {
                    s = s.wrapping_add(a[[i, p]].wrapping_mul(b[[p, j]]));
                }
                c[[i, j]] = c[[i, j]].wrapping_add(s);
            }
        }
    }
    c
}

/// Every kernel this CPU supports, each serial and parallel, and the default path, against the
/// naive reference.
fn check_all(pairs: &[(ArrayView2<'_, u64>, ArrayView2<'_, u64>)]) {
    let want = naive(pairs);
    assert_eq!(gemm_sum(pairs).unwrap(), want);
    let kernels = GemmKernel::supported();
    assert!(kernels.contains(&GemmKernel::Portable));
    for k in kernels {
        for parallel in [None, Some(false), Some(true)] {
            let got = gemm_sum_with(pairs, k, parallel).unwrap();
            assert!(got == want, "{} kernel, parallel {parallel:?}", k.name());
        }
    }
}

#[test]
fn detection_picks_the_fastest_supported_kernel() {
    let best = GemmKernel::detect();
    assert!(best.is_supported());
    assert_eq!(kernel_name(), best.name());
    assert_eq!(GemmKernel::supported().last(), Some(&best));
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq");
        let avx2 = is_x86_feature_detected!("avx2");
        assert_eq!(GemmKernel::Avx512.is_supported(), avx512);
        assert_eq!(GemmKernel::Avx2.is_supported(), avx2);
        let want = if avx512 {
            GemmKernel::Avx512
        } else if avx2 {
            GemmKernel::Avx2
        } else {
            GemmKernel::Portable
        };
        assert_eq!(best, want);
    }
    #[cfg(not(target_arch = "x86_64"))]
    assert_eq!(GemmKernel::supported(), vec![GemmKernel::Portable]);
}

#[test]
fn unsupported_kernels_are_errors() {
    let a = Array2::<u64>::ones((2, 3));
    for k in GemmKernel::ALL {
        let r = gemm_sum_with(&[(a.view(), a.t())], k, None);
        if k.is_supported() {
            assert_eq!(r.unwrap(), Array2::from_elem((2, 2), 3));
        } else {
            let e = r.unwrap_err();
            assert_eq!(e, GemmError::Unsupported(k));
            assert!(e.to_string().contains(k.name()));
        }
    }
}

/// Odd and prime sizes around every kernel's tile (4, 8, 16) and block sizes (`MC` = 96,
/// `KC` = 512, `NC` = 2048), inner dimensions 0 to 3, and tall, wide and skinny shapes.
#[test]
fn many_shapes_on_every_kernel() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut shapes = vec![
        (1000, 3, 2),
        (2, 3, 1000),
        (3, 1100, 2),
        (97, 1, 101),
        (300, 2, 5),
        (1, 2100, 1),
        (4, 4, 2049),
        (100, 513, 17),
        (17, 1025, 9),
    ];
    for m in [1, 3, 4, 5, 8, 9, 15, 17] {
        for n in [1, 2, 4, 7, 8, 12, 16, 19] {
            for k in [0, 1, 2, 3, 5, 31] {
                shapes.push((m, k, n));
            }
        }
    }
    for &(m, k, n) in &shapes {
        let (a, b) = (rng.mat(m, k), rng.mat(k, n));
        check_all(&[(a.view(), b.view())]);
    }
}

/// All-ones words (the largest limbs), so that every carry of the 32-bit limb products of the
/// AVX2 kernel and every wrap of the Winograd pre-additions is exercised.
#[test]
fn extreme_words() {
    for v in [
        u64::MAX,
        1 << 63,
        (1 << 32) - 1,
        1 << 32,
        0xFFFF_FFFF_0000_0001,
    ] {
        let a = Array2::from_elem((9, 70), v);
        let b = Array2::from_shape_fn((70, 11), |(i, j)| v.wrapping_mul((i * 11 + j) as u64 | 1));
        check_all(&[(a.view(), b.view())]);
    }
}

#[test]
fn single_products() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let shapes = [
        (1, 1, 1),
        (7, 33, 5),
        (1, 1000, 1),
        (130, 3, 70),
        (6, 32, 32),
        (12, 257, 64),
        (13, 600, 97),
        (97, 300, 129),
        (200, 513, 33),
        (5, 1, 2100),
    ];
    for &(m, k, n) in &shapes {
        let (a, b) = (rng.mat(m, k), rng.mat(k, n));
        check_all(&[(a.view(), b.view())]);
        assert_eq!(
            gemm(a.view(), b.view()).unwrap(),
            naive(&[(a.view(), b.view())])
        );
    }
}

#[test]
fn zero_sized() {
    for &(m, k, n) in &[(3, 0, 4), (0, 5, 4), (3, 5, 0), (0, 0, 0)] {
        let (a, b) = (Array2::<u64>::ones((m, k)), Array2::<u64>::ones((k, n)));
        let c = gemm(a.view(), b.view()).unwrap();
        assert_eq!(c, Array2::<u64>::zeros((m, n)));
        check_all(&[(a.view(), b.view())]);
    }
}

#[test]
fn strided_views() {
    let mut rng = Rng(12345);
    for &(m, k, n) in &[(7, 33, 5), (40, 300, 70), (1, 9, 1), (65, 270, 33)] {
        let at = rng.mat(k, m); // transposed A
        let bt = rng.mat(n, k); // transposed B
        check_all(&[(at.t(), bt.t())]);
        // Non-contiguous: every other row/column, including negative strides.
        let big_a = rng.mat(2 * m, 3 * k);
        let big_b = rng.mat(2 * k, 2 * n);
        let a = big_a.slice(s![..;2, ..k;-1]);
        let b = big_b.slice(s![1..;2, ..;2]);
        check_all(&[(a, b)]);
        check_all(&[(a, bt.t()), (at.t(), b)]);
    }
}

#[test]
fn multiple_pairs() {
    let mut rng = Rng(777);
    for &(m, n, ks) in &[
        (7, 5, &[33usize, 1, 0, 300][..]),
        (64, 70, &[256, 256][..]),
        (130, 40, &[3, 250, 7][..]),
        (100, 100, &[300, 0, 301][..]),
    ] {
        let a: Vec<_> = ks.iter().map(|&k| rng.mat(m, k)).collect();
        let b: Vec<_> = ks.iter().map(|&k| rng.mat(k, n)).collect();
        let pairs: Vec<_> = a
            .iter()
            .zip(&b)
            .map(|(a, b)| (a.view(), b.view()))
            .collect();
        check_all(&pairs);
    }
}

#[test]
fn large_parallel_matches() {
    let mut rng = Rng(4242);
    let (a0, b0, a1, b1) = (
        rng.mat(300, 200),
        rng.mat(200, 290),
        rng.mat(300, 300),
        rng.mat(300, 290),
    );
    let pairs = [(a0.view(), b0.view()), (a1.view(), b1.view())];
    check_all(&pairs);
}

#[test]
fn concurrent_nested_calls() {
    let mut rng = Rng(99);
    let (a, b, c) = (rng.mat(260, 270), rng.mat(270, 250), rng.mat(270, 250));
    let want = naive(&[(a.view(), b.view()), (a.view(), c.view())]);
    let run = || {
        gemm_sum_with(
            &[(a.view(), b.view()), (a.view(), c.view())],
            GemmKernel::detect(),
            Some(true),
        )
    };
    let (x, (y, z)) = rayon::join(run, || rayon::join(run, run));
    for r in [x, y, z] {
        assert_eq!(r.unwrap(), want);
    }
}

#[test]
fn shape_errors() {
    let a = Array2::<u64>::zeros((3, 4));
    let b = Array2::<u64>::zeros((4, 5));
    let bad_k = Array2::<u64>::zeros((3, 5));
    let bad_m = Array2::<u64>::zeros((2, 4));
    let bad_n = Array2::<u64>::zeros((4, 6));
    assert_eq!(gemm_sum(&[]).unwrap_err().pair, None);
    assert!(matches!(
        gemm_sum_with(&[], GemmKernel::Portable, None),
        Err(GemmError::Shape(_))
    ));
    assert_eq!(gemm(a.view(), bad_k.view()).unwrap_err().pair, Some(0));
    let e = gemm_sum(&[(a.view(), b.view()), (bad_m.view(), b.view())]).unwrap_err();
    assert_eq!(e.pair, Some(1));
    assert_eq!(e.a_shape, (2, 4));
    assert!(e.to_string().contains("pair 1"));
    assert!(gemm_sum(&[(a.view(), b.view()), (a.view(), bad_n.view())]).is_err());
    assert!(gemm_sum(&[(a.view(), b.view()), (a.view(), bad_k.view())]).is_err());
    assert!(
        !GemmShapeError {
            pair: None,
            a_shape: (0, 0),
            b_shape: (0, 0),
            expected_output: (0, 0)
        }
        .to_string()
        .is_empty()
    );
}
