//! The benchmark's generated files preview to the counts the generator expects.

use crate::gen;
use crate::support::preview;

#[test]
fn generated_csv_and_xlsx_give_the_generators_counts() {
    for (bytes, expected, name) in [
        {
            let (b, e) = gen::csv(2_000);
            (b, e, "gen.csv")
        },
        {
            let (b, e) = gen::xlsx(2_000);
            (b, e, "gen.xlsx")
        },
    ] {
        let p = preview(&bytes, name);
        let got =
            (p.counts.data_rows, p.counts.invalid_rows, p.counts.duplicate_rows, p.counts.callable_rows);
        let want =
            (expected.data_rows, expected.invalid_rows, expected.duplicate_rows, expected.callable_rows);
        assert_eq!(
            got,
            want,
            "{name}: {:?}",
            p.invalid_rows().take(3).map(|r| &r.errors).collect::<Vec<_>>()
        );
        assert!(p.rows.iter().all(|r| r.warnings.is_empty()), "{name}");
        assert_eq!(p.mapping.len(), 10, "{name}: {:?}", p.mapping);
    }
}
