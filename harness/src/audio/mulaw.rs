//! G.711 µ-law, the phone line's 8-bit codec (as on Twilio Media Streams).

const BIAS: i32 = 0x84;
const CLIP: i32 = 32_635;

/// Encode one 16-bit sample.
pub fn encode(sample: i16) -> u8 {
    let mut x = i32::from(sample);
    let sign = if x < 0 { 0x80 } else { 0 };
    if x < 0 {
        x = -x;
    }
    x = x.min(CLIP) + BIAS;
    let exponent = (7 - (x.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (x >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 as i32 | mantissa) as u8
}

/// Decode one µ-law byte.
pub fn decode(byte: u8) -> i16 {
    let byte = !byte;
    let sign = byte & 0x80;
    let exponent = i32::from((byte >> 4) & 0x07);
    let mantissa = i32::from(byte & 0x0F);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if sign != 0 { -magnitude } else { magnitude }) as i16
}

pub fn encode_all(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| encode(s)).collect()
}

pub fn decode_all(bytes: &[u8]) -> Vec<i16> {
    bytes.iter().map(|&b| decode(b)).collect()
}

/// The largest round-trip error µ-law allows for `sample`: half the step of
/// its segment (the step doubles with every segment, from 8 near zero).
pub fn error_bound(sample: i16) -> i32 {
    let magnitude = i32::from(sample).abs().min(CLIP) + BIAS;
    let exponent = (7 - (magnitude.leading_zeros() as i32 - 17)).clamp(0, 7);
    (1 << (exponent + 3)) / 2 + 1
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_code_points() {
        // G.711: silence encodes to 0xFF, the extremes to 0x80 and 0x00.
        assert_eq!(encode(0), 0xFF);
        assert_eq!(encode(i16::MAX), 0x80);
        assert_eq!(encode(i16::MIN + 1), 0x00);
        assert_eq!(decode(0xFF), 0);
        assert_eq!(decode(0x80), 32_124);
        assert_eq!(decode(0x00), -32_124);
    }

    #[test]
    fn every_code_decodes_and_re_encodes_to_itself() {
        for byte in 0..=255u8 {
            // 0x7F and 0xFF are both zero; the rest are distinct.
            let again = encode(decode(byte));
            assert!(again == byte || (decode(byte) == 0 && again == 0xFF), "{byte:#x}");
        }
    }

    proptest! {
        #[test]
        fn round_trip_error_is_within_the_codec_bound(sample in -32_635i16..=32_635) {
            let back = decode(encode(sample));
            prop_assert!((i32::from(back) - i32::from(sample)).abs() <= error_bound(sample), "{sample} -> {back}");
        }

        #[test]
        fn encoding_is_monotonic(a in any::<i16>(), b in any::<i16>()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(decode(encode(lo)) <= decode(encode(hi)));
        }
    }
}
