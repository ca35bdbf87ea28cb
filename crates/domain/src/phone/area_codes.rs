//! NANP area codes mapped to a representative IANA time zone, for the TCPA quiet-hours check
//! (calls to a patient only between 8:00 and 21:00 *their* time) when a row has no explicit zone.
//!
//! Approximate by nature: an area code says where a number was issued, not where its holder is
//! now (mobile numbers move), and some area codes straddle a zone line. Straddling codes take the
//! zone of most of their population: 850 (Florida panhandle) and 606/270 (Kentucky) split, 208
//! (Idaho) is Mountain, 915 (El Paso) is Mountain, 219 (north-west Indiana) is Central, 867 (the
//! Canadian territories) is Mountain, 807 (north-western Ontario) is Eastern. Toll-free and other
//! non-geographic codes (800, 833, 900, 500, ...) and the Caribbean NANP countries map to `None`:
//! the caller falls back to the organization's zone. Table as of 2025; new overlays are added as
//! they are announced.

use chrono_tz::Tz;
use chrono_tz::{America, Pacific};

/// (state or province, zone, area codes).
const AREA_CODES: &[(&str, Tz, &[u16])] = &[
    // --- United States ---
    ("AL", America::Chicago, &[205, 251, 256, 334, 659, 938]),
    ("AK", America::Anchorage, &[907]),
    ("AZ", America::Phoenix, &[480, 520, 602, 623, 928]),
    ("AR", America::Chicago, &[327, 479, 501, 870]),
    (
        "CA",
        America::Los_Angeles,
        &[
            209, 213, 279, 310, 323, 341, 350, 408, 415, 424, 442, 510, 530, 559, 562, 619, 626, 628, 650,
            657, 661, 669, 707, 714, 747, 760, 805, 818, 820, 831, 840, 858, 909, 916, 925, 949, 951,
        ],
    ),
    ("CO", America::Denver, &[303, 719, 720, 970, 983]),
    ("CT", America::New_York, &[203, 475, 860, 959]),
    ("DE", America::New_York, &[302]),
    ("DC", America::New_York, &[202, 771]),
    (
        "FL",
        America::New_York,
        &[
            239, 305, 321, 324, 352, 386, 407, 448, 561, 645, 656, 689, 727, 728, 754, 772, 786, 813, 850,
            863, 904, 941, 954,
        ],
    ),
    ("GA", America::New_York, &[229, 404, 470, 478, 678, 706, 762, 770, 912, 943]),
    ("HI", Pacific::Honolulu, &[808]),
    ("ID", America::Boise, &[208, 986]),
    (
        "IL",
        America::Chicago,
        &[217, 224, 309, 312, 331, 447, 464, 618, 630, 708, 730, 773, 779, 815, 847, 872],
    ),
    ("IN", America::Indiana::Indianapolis, &[260, 317, 463, 574, 765, 812, 930]),
    ("IN (north-west)", America::Chicago, &[219]),
    ("IA", America::Chicago, &[319, 515, 563, 641, 712]),
    ("KS", America::Chicago, &[316, 620, 785, 913]),
    ("KY (east)", America::New_York, &[502, 606, 859]),
    ("KY (west)", America::Chicago, &[270, 364]),
    ("LA", America::Chicago, &[225, 318, 337, 504, 985]),
    ("ME", America::New_York, &[207]),
    ("MD", America::New_York, &[227, 240, 301, 410, 443, 667]),
    ("MA", America::New_York, &[339, 351, 413, 508, 617, 774, 781, 857, 978]),
    ("MI", America::Detroit, &[231, 248, 269, 313, 517, 586, 616, 679, 734, 810, 906, 947, 989]),
    ("MN", America::Chicago, &[218, 320, 507, 612, 651, 763, 924, 952]),
    ("MS", America::Chicago, &[228, 471, 601, 662, 769]),
    ("MO", America::Chicago, &[235, 314, 417, 557, 573, 636, 660, 816, 975]),
    ("MT", America::Denver, &[406]),
    ("NE", America::Chicago, &[308, 402, 531]),
    ("NV", America::Los_Angeles, &[702, 725, 775]),
    ("NH", America::New_York, &[603]),
    ("NJ", America::New_York, &[201, 551, 609, 640, 732, 848, 856, 862, 908, 973]),
    ("NM", America::Denver, &[505, 575]),
    (
        "NY",
        America::New_York,
        &[
            212, 315, 329, 332, 347, 363, 516, 518, 585, 607, 624, 631, 646, 680, 716, 718, 838, 845, 914,
            917, 929, 934,
        ],
    ),
    ("NC", America::New_York, &[252, 336, 472, 704, 743, 828, 910, 919, 980, 984]),
    ("ND", America::Chicago, &[701]),
    ("OH", America::New_York, &[216, 220, 234, 283, 326, 330, 380, 419, 436, 440, 513, 567, 614, 740, 937]),
    ("OK", America::Chicago, &[405, 539, 572, 580, 918]),
    ("OR", America::Los_Angeles, &[458, 503, 541, 971]),
    ("PA", America::New_York, &[215, 223, 267, 272, 412, 445, 484, 570, 582, 610, 717, 724, 814, 835, 878]),
    ("RI", America::New_York, &[401]),
    ("SC", America::New_York, &[803, 839, 843, 854, 864]),
    ("SD", America::Chicago, &[605]),
    ("TN (east)", America::New_York, &[423, 865]),
    ("TN (middle, west)", America::Chicago, &[615, 629, 731, 901, 931]),
    (
        "TX",
        America::Chicago,
        &[
            210, 214, 254, 281, 325, 346, 361, 409, 430, 432, 469, 512, 682, 713, 726, 737, 806, 817, 830,
            832, 903, 936, 940, 945, 956, 972, 979,
        ],
    ),
    ("TX (El Paso)", America::Denver, &[915]),
    ("UT", America::Denver, &[385, 435, 801]),
    ("VT", America::New_York, &[802]),
    ("VA", America::New_York, &[276, 434, 540, 571, 686, 703, 757, 804, 826, 948]),
    ("WA", America::Los_Angeles, &[206, 253, 360, 425, 509, 564]),
    ("WV", America::New_York, &[304, 681]),
    ("WI", America::Chicago, &[262, 274, 414, 534, 608, 715, 920]),
    ("WY", America::Denver, &[307]),
    // --- US territories ---
    ("PR", America::Puerto_Rico, &[787, 939]),
    ("VI", America::St_Thomas, &[340]),
    ("GU", Pacific::Guam, &[671]),
    ("MP", Pacific::Saipan, &[670]),
    ("AS", Pacific::Pago_Pago, &[684]),
    // --- Canada ---
    ("BC", America::Vancouver, &[236, 250, 257, 604, 672, 778]),
    ("AB", America::Edmonton, &[368, 403, 587, 780, 825]),
    ("SK", America::Regina, &[306, 474, 639]),
    ("MB", America::Winnipeg, &[204, 431, 584]),
    (
        "ON",
        America::Toronto,
        &[226, 249, 289, 343, 365, 382, 416, 437, 519, 548, 613, 647, 683, 705, 742, 753, 807, 905, 942],
    ),
    ("QC", America::Toronto, &[263, 354, 367, 418, 438, 450, 468, 514, 579, 581, 819, 873]),
    ("NB", America::Moncton, &[428, 506]),
    ("NS, PE", America::Halifax, &[782, 902]),
    ("NL", America::St_Johns, &[709, 879]),
    ("YT, NT, NU", America::Edmonton, &[867]),
];

/// A representative IANA zone for a US/Canada area code, or `None` for non-geographic codes
/// (toll-free, premium) and codes outside the US and Canada. Approximate: see the module docs.
pub fn nanp_time_zone(area_code: u16) -> Option<Tz> {
    AREA_CODES.iter().find(|(_, _, codes)| codes.contains(&area_code)).map(|(_, zone, _)| *zone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn well_known_area_codes_map_to_their_zone() {
        let cases = [
            (212, Some(America::New_York)),
            (312, Some(America::Chicago)),
            (303, Some(America::Denver)),
            (602, Some(America::Phoenix)),
            (415, Some(America::Los_Angeles)),
            (907, Some(America::Anchorage)),
            (808, Some(Pacific::Honolulu)),
            (317, Some(America::Indiana::Indianapolis)),
            (313, Some(America::Detroit)),
            (915, Some(America::Denver)),
            (787, Some(America::Puerto_Rico)),
            (416, Some(America::Toronto)),
            (514, Some(America::Toronto)),
            (604, Some(America::Vancouver)),
            (306, Some(America::Regina)),
            (709, Some(America::St_Johns)),
            (800, None),
            (888, None),
            (900, None),
            (555, None),
            (876, None),
        ];
        for (code, zone) in cases {
            assert_eq!(nanp_time_zone(code), zone, "area code {code}");
        }
    }

    #[test]
    fn every_area_code_appears_once_and_is_a_valid_nanp_code() {
        let mut seen = HashSet::new();
        for (region, _, codes) in AREA_CODES {
            for &code in *codes {
                assert!(seen.insert(code), "{code} listed twice (again under {region})");
                assert!((200..=999).contains(&code), "{code} under {region}");
                assert_ne!(code % 100, 11, "{code} under {region} is an N11 service code");
            }
        }
        // Every state, DC and every province with its own area codes.
        assert!(seen.len() > 390, "only {} codes", seen.len());
    }

    #[test]
    fn the_table_covers_all_fifty_states_and_dc() {
        let states: HashSet<&str> = AREA_CODES.iter().map(|(r, _, _)| &r[..2]).collect();
        let expected = [
            "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
            "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
            "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
            "WV", "WI", "WY",
        ];
        for state in expected {
            assert!(states.contains(state), "{state} missing");
        }
    }
}
