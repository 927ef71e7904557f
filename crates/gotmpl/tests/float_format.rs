//! Go's `%v` of float64 values around the integer fast path.

use gotmpl::gofmt::format_float;
use proptest::prelude::*;

#[test]
fn integer_valued_floats_and_boundaries() {
    for (f, want) in [
        (8080.0, "8080"),
        (-3.0, "-3"),
        (999_999.0, "999999"),
        (1e6, "1e+06"),
        (-1e6, "-1e+06"),
        (100_000_000.0, "1e+08"),
        (0.5, "0.5"),
        (1.5, "1.5"),
        (0.0, "0"),
        (-0.0, "-0"),
        (1e-7, "1e-07"),
    ] {
        assert_eq!(format_float(f, 'g', -1), want, "{f}");
    }
}

proptest! {
    #[test]
    fn small_integers_print_like_go(i in -999_999i64..=999_999) {
        prop_assume!(i != 0);
        prop_assert_eq!(format_float(i as f64, 'g', -1), i.to_string());
    }
}
