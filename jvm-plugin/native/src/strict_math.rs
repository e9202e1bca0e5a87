//! `java.lang.StrictMath`'s `exp`, `expm1`, `log`, `log10`, `log1p`, `pow`, `atan`, `asin`,
//! `acos`, `atan2`, `sinh`, `cosh`, `tanh`, `cbrt` and `hypot`, bit for bit.
//!
//! Spark computes `exp`, `expm1`, `ln`, `log10`, `log2`, `log1p`, `log(base, x)`, `pow` (and
//! so `asinh`, `acosh`, `atanh`) through `StrictMath`, whose results the Java specification
//! fixes: those of fdlibm 5.3, the "Freely Distributable Math Library"; and `atan`, `asin`,
//! `acos`, `atan2`, `sinh`, `cosh`, `tanh`, `cbrt` and `hypot` through `java.lang.Math`, which
//! delegates them to `StrictMath` (Java 24 and later have intrinsics for `tanh` and `cbrt`,
//! which the plugin leaves to Spark). So the native side reproduces fdlibm's algorithms
//! operation by operation; a result that is merely as accurate could differ from Spark's in
//! the last bit.
//!
//! - `exp`, `expm1`, `pow`, `atan`, `asin` and `acos`: the `libm` crate's ports of FreeBSD's
//!   msun, which kept fdlibm's algorithms for these. `pow` takes the special cases where C99
//!   (and so msun) departs from fdlibm's and Java's: `x ** NaN` is NaN (also for `x = 1`), and
//!   `(±1) ** ±∞` is NaN.
//! - `log`, `log10`, `log1p`, `atan2`, `sinh`, `cosh`, `tanh`, `cbrt` and `hypot`: msun's
//!   differ from fdlibm 5.3's (musl rewrote the reduction of `log`; `log10` works from `log`'s
//!   kernel; `atan2` for `|y/x| > 2^60` with `x < 0`; `cbrt` is core-math's), so these are
//!   fdlibm 5.3's, below.
//!
//! Checked against the JVM's `StrictMath` on 15 million arguments (random bits, each range of
//! the algorithms, subnormals, special values; 1M per function and every pair of special
//! values): all agree bit for bit. `tests/strict_math_vectors.txt` keeps a sample of those
//! answers, which the unit tests compare bit for bit.

/// The high 32 bits of `x`, as fdlibm's `__HI` reads them (a signed int).
fn hi(x: f64) -> i32 {
    (x.to_bits() >> 32) as i32
}

/// The low 32 bits of `x` (fdlibm's `__LO`).
fn lo(x: f64) -> u32 {
    x.to_bits() as u32
}

/// `x` with its high 32 bits replaced by `high`.
fn with_hi(x: f64, high: i32) -> f64 {
    f64::from_bits((u64::from(high as u32) << 32) | u64::from(lo(x)))
}

const TWO54: f64 = f64::from_bits(0x4350000000000000); // 1.8014398509481984e16
const LN2_HI: f64 = f64::from_bits(0x3fe62e42fee00000); // 6.93147180369123816490e-1
const LN2_LO: f64 = f64::from_bits(0x3dea39ef35793c76); // 1.90821492927058770002e-10
// fdlibm's polynomial for log(1+f) - f + f*f/2 in s = f/(2+f), shared by log and log1p.
const LG1: f64 = f64::from_bits(0x3fe5555555555593); // 6.666666666666735130e-1
const LG2: f64 = f64::from_bits(0x3fd999999997fa04); // 3.999999999940941908e-1
const LG3: f64 = f64::from_bits(0x3fd2492494229359); // 2.857142874366239149e-1
const LG4: f64 = f64::from_bits(0x3fcc71c51d8e78af); // 2.222219843214978396e-1
const LG5: f64 = f64::from_bits(0x3fc7466496cb03de); // 1.818357216161805012e-1
const LG6: f64 = f64::from_bits(0x3fc39a09d078c69f); // 1.531383769920937332e-1
const LG7: f64 = f64::from_bits(0x3fc2f112df3e5244); // 1.479819860511658591e-1

/// `StrictMath.exp`.
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// `StrictMath.expm1`: `e^x - 1`, accurate near zero.
pub fn expm1(x: f64) -> f64 {
    libm::expm1(x)
}

/// `StrictMath.pow`.
pub fn pow(x: f64, y: f64) -> f64 {
    if y.is_nan() || (x.abs() == 1.0 && y.is_infinite()) {
        // fdlibm: "(anything) ** NaN is NaN" (but x ** 0 is 1), "±1 ** ±INF is NaN".
        if y == 0.0 {
            return 1.0;
        }
        return f64::NAN;
    }
    libm::pow(x, y)
}

/// The start `log` and `log10` share in fdlibm: `Err` with the result for zero (-∞), a
/// negative number (NaN), an infinity or a NaN (`x + x`); else `Ok((x, hx, k))`, a subnormal
/// `x` scaled by 2^54 (`k = -54`, else 0) and `hx` its high word.
fn log_argument(x: f64) -> Result<(f64, i32, i32), f64> {
    let (mut x, mut hx, lx) = (x, hi(x), lo(x));
    let mut k = 0;
    if hx < 0x0010_0000 {
        // x < 2^-1022: zero, negative or subnormal.
        if ((hx & 0x7fff_ffff) as u32 | lx) == 0 {
            return Err(f64::NEG_INFINITY);
        }
        if hx < 0 {
            return Err(f64::NAN);
        }
        k -= 54;
        x *= TWO54;
        hx = hi(x);
    }
    if hx >= 0x7ff0_0000 {
        return Err(x + x);
    }
    Ok((x, hx, k))
}

/// `StrictMath.log`: the natural logarithm (fdlibm's `__ieee754_log`).
///
/// Writes `x = 2^k * (1 + f)` with `1 + f` in `[sqrt(2)/2, sqrt(2)]`, then
/// `log(1 + f) = f - s * (f - R)` (or `f - (f*f/2 - s * (f*f/2 + R))`) with `s = f / (2 + f)`
/// and `R` fdlibm's polynomial in `s*s`, and adds `k * ln2` in two parts.
pub fn log(x: f64) -> f64 {
    let (mut x, mut hx, mut k) = match log_argument(x) {
        Ok(reduced) => reduced,
        Err(result) => return result,
    };
    k += (hx >> 20) - 1023;
    hx &= 0x000f_ffff;
    let i = (hx + 0x95f64) & 0x10_0000;
    // Normalise x or x/2 into [sqrt(2)/2, sqrt(2)].
    x = with_hi(x, hx | (i ^ 0x3ff0_0000));
    k += i >> 20;
    let f = x - 1.0;
    if (0x000f_ffff & (2 + hx)) < 3 {
        // |f| < 2^-20
        if f == 0.0 {
            if k == 0 {
                return 0.0;
            }
            let dk = f64::from(k);
            return dk * LN2_HI + dk * LN2_LO;
        }
        let r = f * f * (0.5 - 0.333_333_333_333_333_3 * f);
        if k == 0 {
            return f - r;
        }
        let dk = f64::from(k);
        return dk * LN2_HI - ((r - dk * LN2_LO) - f);
    }
    let s = f / (2.0 + f);
    let dk = f64::from(k);
    let z = s * s;
    let mut i = hx - 0x6147a;
    let w = z * z;
    let j = 0x6b851 - hx;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    i |= j;
    let r = t2 + t1;
    if i > 0 {
        let hfsq = 0.5 * f * f;
        if k == 0 {
            f - (hfsq - s * (hfsq + r))
        } else {
            dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)
        }
    } else if k == 0 {
        f - s * (f - r)
    } else {
        dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f)
    }
}

/// `StrictMath.log10` (fdlibm's `__ieee754_log10`): `log10(2^n * x) = n * log10(2) +
/// log(x) / ln(10)`, with `log10(2)` in two parts and `n` chosen so that `n * log10(2)` and the
/// rest do not cancel.
pub fn log10(x: f64) -> f64 {
    const IVLN10: f64 = f64::from_bits(0x3fdbcb7b1526e50e); // 4.34294481903251816668e-1
    const LOG10_2HI: f64 = f64::from_bits(0x3fd34413509f6000); // 3.01029995663611771306e-1
    const LOG10_2LO: f64 = f64::from_bits(0x3d59fef311f12b36); // 3.69423907715893078616e-13
    let (mut x, mut hx, mut k) = match log_argument(x) {
        Ok(reduced) => reduced,
        Err(result) => return result,
    };
    k += (hx >> 20) - 1023;
    let i = ((k as u32) & 0x8000_0000) >> 31;
    let i = i as i32;
    hx = (hx & 0x000f_ffff) | ((0x3ff - i) << 20);
    let y = f64::from(k + i);
    x = with_hi(x, hx);
    let z = y * LOG10_2LO + IVLN10 * log(x);
    z + y * LOG10_2HI
}

/// `StrictMath.log1p`: `log(1 + x)`, accurate near zero (fdlibm's `log1p`).
pub fn log1p(x: f64) -> f64 {
    let hx = hi(x);
    let ax = hx & 0x7fff_ffff;
    let mut k: i32 = 1;
    let mut f = 0.0;
    let mut hu: i32 = 0;
    let mut c = 0.0;
    if hx < 0x3fda_827a {
        // x < 0.41422
        if ax >= 0x3ff0_0000 {
            // x <= -1.0
            return if x == -1.0 {
                f64::NEG_INFINITY
            } else {
                f64::NAN
            };
        }
        if ax < 0x3e20_0000 {
            // |x| < 2^-29
            if ax < 0x3c90_0000 {
                // |x| < 2^-54
                return x;
            }
            return x - x * x * 0.5;
        }
        if hx > 0 || hx <= 0xbfd2_bec3_u32 as i32 {
            // -0.2929 < x < 0.41422
            k = 0;
            f = x;
            hu = 1;
        }
    }
    if hx >= 0x7ff0_0000 {
        return x + x;
    }
    if k != 0 {
        let mut u;
        if hx < 0x4340_0000 {
            u = 1.0 + x;
            hu = hi(u);
            k = (hu >> 20) - 1023;
            // The rounding error of 1 + x, as a correction term.
            c = if k > 0 { 1.0 - (u - x) } else { x - (u - 1.0) };
            c /= u;
        } else {
            u = x;
            hu = hi(u);
            k = (hu >> 20) - 1023;
            c = 0.0;
        }
        hu &= 0x000f_ffff;
        if hu < 0x6a09e {
            // Normalise u.
            u = with_hi(u, hu | 0x3ff0_0000);
        } else {
            // Normalise u/2.
            k += 1;
            u = with_hi(u, hu | 0x3fe0_0000);
            hu = (0x0010_0000 - hu) >> 2;
        }
        f = u - 1.0;
    }
    let hfsq = 0.5 * f * f;
    let dk = f64::from(k);
    if hu == 0 {
        // |f| < 2^-20
        if f == 0.0 {
            if k == 0 {
                return 0.0;
            }
            c += dk * LN2_LO;
            return dk * LN2_HI + c;
        }
        let r = hfsq * (1.0 - 0.666_666_666_666_666_6 * f);
        if k == 0 {
            return f - r;
        }
        return dk * LN2_HI - ((r - (dk * LN2_LO + c)) - f);
    }
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * (LG1 + z * (LG2 + z * (LG3 + z * (LG4 + z * (LG5 + z * (LG6 + z * LG7))))));
    if k == 0 {
        f - (hfsq - s * (hfsq + r))
    } else {
        dk * LN2_HI - ((hfsq - (s * (hfsq + r) + (dk * LN2_LO + c))) - f)
    }
}

/// `StrictMath.atan`.
pub fn atan(x: f64) -> f64 {
    libm::atan(x)
}

/// `StrictMath.asin`.
pub fn asin(x: f64) -> f64 {
    libm::asin(x)
}

/// `StrictMath.acos`.
pub fn acos(x: f64) -> f64 {
    libm::acos(x)
}

/// `StrictMath.atan2(y, x)` (fdlibm's `__ieee754_atan2`; msun's differs where `|y/x| > 2^60`
/// and `x < 0`): the angle of `(x, y)`, from `atan(|y/x|)` and the signs.
pub fn atan2(y: f64, x: f64) -> f64 {
    const TINY: f64 = 1.0e-300;
    const PI_O_4: f64 = f64::from_bits(0x3fe921fb54442d18);
    const PI_O_2: f64 = f64::from_bits(0x3ff921fb54442d18);
    const PI: f64 = f64::from_bits(0x400921fb54442d18);
    const PI_LO: f64 = f64::from_bits(0x3ca1a62633145c07);
    if x.is_nan() || y.is_nan() {
        return x + y;
    }
    let (hx, lx) = (hi(x), lo(x));
    let (hy, ly) = (hi(y), lo(y));
    let (ix, iy) = (hx & 0x7fff_ffff, hy & 0x7fff_ffff);
    if x == 1.0 {
        return atan(y);
    }
    // 2 * sign(x) + sign(y).
    let m = ((hy >> 31) & 1) | ((hx >> 30) & 2);
    if (iy as u32 | ly) == 0 {
        return match m {
            0 | 1 => y,
            2 => PI + TINY,
            _ => -PI - TINY,
        };
    }
    if (ix as u32 | lx) == 0 {
        return if hy < 0 {
            -PI_O_2 - TINY
        } else {
            PI_O_2 + TINY
        };
    }
    if ix == 0x7ff0_0000 {
        return if iy == 0x7ff0_0000 {
            match m {
                0 => PI_O_4 + TINY,
                1 => -PI_O_4 - TINY,
                2 => 3.0 * PI_O_4 + TINY,
                _ => -3.0 * PI_O_4 - TINY,
            }
        } else {
            match m {
                0 => 0.0,
                1 => -0.0,
                2 => PI + TINY,
                _ => -PI - TINY,
            }
        };
    }
    if iy == 0x7ff0_0000 {
        return if hy < 0 {
            -PI_O_2 - TINY
        } else {
            PI_O_2 + TINY
        };
    }
    let k = (iy - ix) >> 20;
    let z = if k > 60 {
        // |y/x| > 2^60
        PI_O_2 + 0.5 * PI_LO
    } else if hx < 0 && k < -60 {
        // |y|/x < -2^60
        0.0
    } else {
        atan((y / x).abs())
    };
    match m {
        0 => z,
        1 => -z,
        2 => PI - (z - PI_LO),
        _ => (z - PI_LO) - PI,
    }
}

/// The largest `|x|` whose `sinh` and `cosh` are finite: `0x408633ce8fb9f87d`'s high and low
/// words, as fdlibm compares them.
fn below_overflow_threshold(ix: i32, x: f64) -> bool {
    ix < 0x4086_33ce || (ix == 0x4086_33ce && lo(x) <= 0x8fb9_f87d)
}

/// `StrictMath.sinh` (fdlibm's `__ieee754_sinh`).
pub fn sinh(x: f64) -> f64 {
    let jx = hi(x);
    let ix = jx & 0x7fff_ffff;
    if ix >= 0x7ff0_0000 {
        return x + x;
    }
    let h = if jx < 0 { -0.5 } else { 0.5 };
    if ix < 0x4036_0000 {
        // |x| < 22
        if ix < 0x3e30_0000 {
            // |x| < 2^-28
            return x;
        }
        let t = expm1(x.abs());
        if ix < 0x3ff0_0000 {
            return h * (2.0 * t - t * t / (t + 1.0));
        }
        return h * (t + t / (t + 1.0));
    }
    if ix < 0x4086_2e42 {
        // |x| in [22, log(maxdouble)]
        return h * exp(x.abs());
    }
    if below_overflow_threshold(ix, x) {
        let w = exp(0.5 * x.abs());
        let t = h * w;
        return t * w;
    }
    x * 1.0e307
}

/// `StrictMath.cosh` (fdlibm's `__ieee754_cosh`).
pub fn cosh(x: f64) -> f64 {
    let ix = hi(x) & 0x7fff_ffff;
    if ix >= 0x7ff0_0000 {
        return x * x;
    }
    if ix < 0x3fd6_2e43 {
        // |x| in [0, ln(2)/2]: 1 + expm1(|x|)^2 / (2 * exp(|x|))
        let t = expm1(x.abs());
        let w = 1.0 + t;
        if ix < 0x3c80_0000 {
            return w;
        }
        return 1.0 + (t * t) / (w + w);
    }
    if ix < 0x4036_0000 {
        // |x| in [ln(2)/2, 22]: (exp(|x|) + 1 / exp(|x|)) / 2
        let t = exp(x.abs());
        return 0.5 * t + 0.5 / t;
    }
    if ix < 0x4086_2e42 {
        return 0.5 * exp(x.abs());
    }
    if below_overflow_threshold(ix, x) {
        let w = exp(0.5 * x.abs());
        let t = 0.5 * w;
        return t * w;
    }
    f64::INFINITY
}

/// `StrictMath.tanh` (fdlibm's `tanh`).
pub fn tanh(x: f64) -> f64 {
    let jx = hi(x);
    let ix = jx & 0x7fff_ffff;
    if ix >= 0x7ff0_0000 {
        // tanh(±inf) = ±1, tanh(NaN) = NaN
        return if jx >= 0 {
            1.0 / x + 1.0
        } else {
            1.0 / x - 1.0
        };
    }
    let z = if ix < 0x4036_0000 {
        // |x| < 22
        if ix < 0x3c80_0000 {
            // |x| < 2^-55
            return x * (1.0 + x);
        }
        if ix >= 0x3ff0_0000 {
            let t = expm1(2.0 * x.abs());
            1.0 - 2.0 / (t + 2.0)
        } else {
            let t = expm1(-2.0 * x.abs());
            -t / (t + 2.0)
        }
    } else {
        1.0 - 1.0e-300
    };
    if jx >= 0 { z } else { -z }
}

/// `StrictMath.cbrt` (fdlibm 5.3's `cbrt`): a cube root to 5 bits from the exponent, to 23
/// bits by a rational approximation, then one Newton step.
pub fn cbrt(x: f64) -> f64 {
    const B1: u32 = 715_094_163; // (682 - 0.03306235651) * 2^20
    const B2: u32 = 696_219_795; // (664 - 0.03306235651) * 2^20
    const C: f64 = f64::from_bits(0x3fe15f15f15f15f1); // 19/35
    const D: f64 = f64::from_bits(0xbfe691de2532c834); // -864/1225
    const E: f64 = f64::from_bits(0x3ff6a0ea0ea0ea0f); // 99/70
    const F: f64 = f64::from_bits(0x3ff9b6db6db6db6e); // 45/28
    const G: f64 = f64::from_bits(0x3fd6db6db6db6db7); // 5/14
    let hx = hi(x) as u32;
    let sign = hx & 0x8000_0000;
    let hx = hx ^ sign;
    if hx >= 0x7ff0_0000 {
        return x + x;
    }
    if (hx | lo(x)) == 0 {
        return x;
    }
    let x = with_hi(x, hx as i32);
    let mut t = if hx < 0x0010_0000 {
        // Subnormal: scale by 2^54 first.
        let t = f64::from_bits(0x4350_0000_0000_0000) * x;
        with_hi(t, ((hi(t) as u32) / 3 + B2) as i32)
    } else {
        with_hi(0.0, (hx / 3 + B1) as i32)
    };
    let r = t * t / x;
    let s = C + r * t;
    t *= G + F / (s + E + D / s);
    // Chopped to 20 bits, and made larger than cbrt(x).
    t = f64::from_bits((u64::from((hi(t) as u32).wrapping_add(1))) << 32);
    let s = t * t;
    let r = x / s;
    let w = t + t;
    let r = (r - t) / (w + r);
    t += t * r;
    with_hi(t, (hi(t) as u32 | sign) as i32)
}

/// `StrictMath.hypot` (fdlibm's `__ieee754_hypot`): `sqrt(x*x + y*y)` without undue overflow or
/// underflow, from the larger and smaller magnitudes split into high and low parts.
pub fn hypot(x: f64, y: f64) -> f64 {
    let (mut ha, mut hb) = (hi(x) & 0x7fff_ffff, hi(y) & 0x7fff_ffff);
    let (mut a, mut b) = if hb > ha {
        std::mem::swap(&mut ha, &mut hb);
        (y, x)
    } else {
        (x, y)
    };
    a = with_hi(a, ha);
    b = with_hi(b, hb);
    if ha - hb > 0x3c0_0000 {
        // a / b > 2^60
        return a + b;
    }
    let mut k: i32 = 0;
    if ha > 0x5f30_0000 {
        // a > 2^500
        if ha >= 0x7ff0_0000 {
            // Inf or NaN: an infinity wins over a NaN.
            let mut w = a + b;
            if ((ha & 0xfffff) as u32 | lo(a)) == 0 {
                w = a;
            }
            if ((hb ^ 0x7ff0_0000) as u32 | lo(b)) == 0 {
                w = b;
            }
            return w;
        }
        // Scale a and b by 2^-600.
        ha -= 0x2580_0000;
        hb -= 0x2580_0000;
        k += 600;
        a = with_hi(a, ha);
        b = with_hi(b, hb);
    }
    if hb < 0x20b0_0000 {
        // b < 2^-500
        if hb <= 0x000f_ffff {
            // Subnormal b or 0.
            if (hb as u32 | lo(b)) == 0 {
                return a;
            }
            let t1 = f64::from_bits(0x7fd0_0000_0000_0000); // 2^1022
            b *= t1;
            a *= t1;
            k -= 1022;
        } else {
            // Scale a and b by 2^600.
            ha += 0x2580_0000;
            hb += 0x2580_0000;
            k -= 600;
            a = with_hi(a, ha);
            b = with_hi(b, hb);
        }
    }
    let mut w = a - b;
    if w > b {
        let t1 = with_hi(0.0, ha);
        let t2 = a - t1;
        w = (t1 * t1 - (b * (-b) - t2 * (a + t1))).sqrt();
    } else {
        a += a;
        let y1 = with_hi(0.0, hb);
        let y2 = b - y1;
        let t1 = with_hi(0.0, ha + 0x0010_0000);
        let t2 = a - t1;
        w = (t1 * y1 - (w * (-w) - (t1 * y2 + t2 * b))).sqrt();
    }
    if k != 0 {
        let t1 = with_hi(1.0, hi(1.0) + (k << 20));
        t1 * w
    } else {
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compares each line of `vectors` (`function x y result`, bits in hex, written by
    /// `tests/StrictMathVectors.java`) with this module's answer; NaNs agree whatever their
    /// bits (Spark reads every NaN as the same). Returns how many lines it checked.
    fn check(vectors: &str) -> usize {
        let hex = |s: &str| f64::from_bits(u64::from_str_radix(s, 16).expect("hex bits"));
        let mut checked = 0;
        for line in vectors.lines() {
            let parts: Vec<&str> = line.split(' ').collect();
            let [f, x, y, want] = parts[..] else {
                panic!("bad line {line:?}");
            };
            let (x, y, want) = (hex(x), hex(y), hex(want));
            let got = match f {
                "log" => log(x),
                "log10" => log10(x),
                "log1p" => log1p(x),
                "exp" => exp(x),
                "expm1" => expm1(x),
                "pow" => pow(x, y),
                "atan" => atan(x),
                "asin" => asin(x),
                "acos" => acos(x),
                "atan2" => atan2(x, y),
                "sinh" => sinh(x),
                "cosh" => cosh(x),
                "tanh" => tanh(x),
                "cbrt" => cbrt(x),
                "hypot" => hypot(x, y),
                _ => panic!("unknown function {f}"),
            };
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{f}({x:e}, {y:e}): {got:e} ({:016x}), StrictMath gives {want:e} ({:016x})",
                got.to_bits(),
                want.to_bits()
            );
            checked += 1;
        }
        checked
    }

    #[test]
    fn matches_the_jvms_strict_math() {
        let checked = check(include_str!("../tests/strict_math_vectors.txt"));
        assert!(checked > 2000, "{checked} vectors");
        // A larger set, written by the same program, when given.
        if let Ok(path) = std::env::var("CINDER_STRICT_MATH_VECTORS") {
            let more = std::fs::read_to_string(&path).expect("CINDER_STRICT_MATH_VECTORS");
            eprintln!("{} more vectors from {path} agree", check(&more));
        }
    }

    #[test]
    fn special_values_as_java_specifies_them() {
        assert_eq!(log(1.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(log(-0.0), f64::NEG_INFINITY);
        assert!(log(-1.0).is_nan() && log10(-5e-324).is_nan() && log1p(-1.5).is_nan());
        assert_eq!(log(f64::INFINITY), f64::INFINITY);
        assert_eq!(log10(1000.0), 3.0);
        assert_eq!(log1p(-1.0), f64::NEG_INFINITY);
        assert_eq!(log1p(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(expm1(-0.0).to_bits(), (-0.0f64).to_bits());
        // Where C99 (and so msun) and Java differ: NaN, not 1.
        assert!(pow(1.0, f64::NAN).is_nan());
        assert!(pow(-1.0, f64::INFINITY).is_nan() && pow(1.0, f64::NEG_INFINITY).is_nan());
        assert_eq!(pow(f64::NAN, 0.0), 1.0);
        assert_eq!(pow(-2.0, 3.0), -8.0);
        assert!(pow(-2.0, 0.5).is_nan());
    }
}
