// Writes StrictMath's answers for crate::strict_math's unit test, one per line:
// `function x y result`, each double's bits in hex (y is 0 for the functions of one argument).
//
//   java jvm-plugin/native/tests/StrictMathVectors.java 200 1 > jvm-plugin/native/tests/strict_math_vectors.txt
//
// The arguments: how many random cases per function, and the seed. A larger run, checked
// without committing it (see strict_math.rs):
//
//   java jvm-plugin/native/tests/StrictMathVectors.java 1000000 7 > /tmp/vectors.txt
//   CINDER_STRICT_MATH_VECTORS=/tmp/vectors.txt cargo test -p cinder-jni strict_math
import java.util.Random;

public class StrictMathVectors {
    static Random random;

    static double bits(long b) { return Double.longBitsToDouble(b); }

    /** A double a few thousand ulps from v. */
    static double near(double v) { return bits(Double.doubleToRawLongBits(v) + random.nextInt(6001) - 3000); }

    static double uniform(double lo, double hi) { return lo + (hi - lo) * random.nextDouble(); }

    static double pick(double... values) { return values[random.nextInt(values.length)]; }

    static double arg(String f) {
        double k = random.nextDouble();
        switch (f) {
            case "log": case "log10":
                if (k < 0.3) return bits(random.nextLong() >>> 1);
                if (k < 0.5) return near(1.0);
                if (k < 0.6) return near(pick(2.0, 0.5, 10.0, 100.0, 1e-300, Math.sqrt(2), Math.sqrt(0.5), Double.MIN_NORMAL));
                if (k < 0.7) return bits(1 + (random.nextLong() >>> 12)); // subnormal
                if (k < 0.75) return bits(random.nextLong());
                return uniform(0, 2) * Math.pow(10, random.nextInt(61) - 30);
            case "log1p":
                if (k < 0.2) return uniform(-1, 1);
                if (k < 0.4) return uniform(-1, 1) * Math.scalb(1.0, -random.nextInt(61));
                if (k < 0.5) return near(pick(-1.0, 0.41422, -0.2929, 0x1p-29, -0x1p-29, 0x1p-54, 0x1p53, 1.0, -0.5));
                if (k < 0.7) return bits(random.nextLong());
                return uniform(-1, 1e6);
            case "exp": case "expm1":
                if (k < 0.3) return uniform(-750, 750);
                if (k < 0.5) return uniform(-1, 1) * Math.scalb(1.0, -random.nextInt(61));
                if (k < 0.6) return near(pick(709.782712893384, -745.1332191019411, -708.3964185322641,
                    0.5 * Math.log(2), 1.5 * Math.log(2), Math.log(2), 56 * Math.log(2), -38.0, 0.0));
                if (k < 0.7) return bits(random.nextLong());
                return uniform(-40, 40);
            case "atan": case "sinh": case "cosh": case "tanh": case "cbrt":
                if (k < 0.3) return uniform(-30, 30);
                if (k < 0.5) return uniform(-1, 1) * Math.scalb(1.0, -random.nextInt(61));
                if (k < 0.6) return near(pick(22.0, -22.0, 1.0, 0.5 * Math.log(2), 709.78, 710.47586, -710.47586,
                    0x1p-28, 0x1p-55, 0.4375, 2.4375, 1.0 / 3));
                if (k < 0.7) return bits(1 + (random.nextLong() >>> 12)); // subnormal
                if (k < 0.85) return bits(random.nextLong());
                return uniform(-1000, 1000);
            case "asin": case "acos":
                if (k < 0.5) return uniform(-1, 1);
                if (k < 0.7) return near(pick(1.0, -1.0, 0.5, -0.5, 0.975, 0x1p-26, 0.0));
                if (k < 0.8) return uniform(-1, 1) * Math.scalb(1.0, -random.nextInt(61));
                return bits(random.nextLong());
            default: throw new IllegalArgumentException(f);
        }
    }

    /** Two arguments for atan2 and hypot: ratios and magnitudes far apart, and specials. */
    static double[] pair() {
        double k = random.nextDouble();
        if (k < 0.3) return new double[] {uniform(-100, 100), uniform(-100, 100)};
        if (k < 0.5) return new double[] {uniform(-1, 1) * Math.scalb(1.0, random.nextInt(200) - 100),
            uniform(-1, 1) * Math.scalb(1.0, random.nextInt(200) - 100)};
        if (k < 0.6) return new double[] {bits(random.nextLong()), bits(random.nextLong())};
        if (k < 0.7) return new double[] {uniform(-1, 1) * 1e300, uniform(-1, 1) * 1e-300};
        if (k < 0.8) return new double[] {bits(1 + (random.nextLong() >>> 12)), uniform(-1, 1)};
        if (k < 0.9) return new double[] {SPECIALS[random.nextInt(SPECIALS.length)], uniform(-10, 10)};
        return new double[] {uniform(-10, 10), SPECIALS[random.nextInt(SPECIALS.length)]};
    }

    static final double[] SPECIALS = {0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0,
        Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN, Double.MIN_VALUE, -Double.MIN_VALUE,
        Double.MAX_VALUE, -Double.MAX_VALUE, 1e-310, Math.nextDown(1.0), Math.nextUp(1.0), -Math.nextDown(1.0),
        0x1p31, 0x1p53, 0x1p64, -0x1p53 - 2, 1e308, 1e-308, 1.5, -1.5};

    static void line(String f, double x, double y, double r) {
        System.out.printf("%s %016x %016x %016x%n", f, Double.doubleToRawLongBits(x),
            Double.doubleToRawLongBits(y), Double.doubleToRawLongBits(r));
    }

    public static void main(String[] args) {
        int n = Integer.parseInt(args[0]);
        random = new Random(Long.parseLong(args[1]));
        for (String f : new String[] {"log", "log10", "log1p", "exp", "expm1", "atan", "asin", "acos", "sinh",
                "cosh", "tanh", "cbrt"}) {
            for (double x : SPECIALS) line(f, x, 0.0, apply(f, x));
            for (int i = 0; i < n; i++) {
                double x = arg(f);
                line(f, x, 0.0, apply(f, x));
            }
        }
        for (double x : SPECIALS) for (double y : SPECIALS) line("pow", x, y, StrictMath.pow(x, y));
        for (int i = 0; i < n; i++) {
            double k = random.nextDouble(), x, y;
            if (k < 0.3) { x = uniform(0, 100); y = uniform(-100, 100); }
            else if (k < 0.5) { x = near(1.0); y = uniform(-1e18, 1e18); }
            else if (k < 0.6) { x = uniform(-100, 100); y = random.nextInt(2201) - 1100; }
            else if (k < 0.7) { x = bits(random.nextLong()); y = bits(random.nextLong()); }
            else if (k < 0.8) { x = uniform(0, 10); y = uniform(-1100, 1100); }
            else if (k < 0.9) { x = SPECIALS[random.nextInt(SPECIALS.length)]; y = bits(random.nextLong()); }
            else { x = bits(random.nextLong()); y = SPECIALS[random.nextInt(SPECIALS.length)]; }
            line("pow", x, y, StrictMath.pow(x, y));
        }
        for (double x : SPECIALS) {
            for (double y : SPECIALS) {
                line("atan2", x, y, StrictMath.atan2(x, y));
                line("hypot", x, y, StrictMath.hypot(x, y));
            }
        }
        for (int i = 0; i < n; i++) {
            double[] p = pair();
            line("atan2", p[0], p[1], StrictMath.atan2(p[0], p[1]));
            p = pair();
            line("hypot", p[0], p[1], StrictMath.hypot(p[0], p[1]));
        }
    }

    static double apply(String f, double x) {
        switch (f) {
            case "log": return StrictMath.log(x);
            case "log10": return StrictMath.log10(x);
            case "log1p": return StrictMath.log1p(x);
            case "exp": return StrictMath.exp(x);
            case "expm1": return StrictMath.expm1(x);
            case "atan": return StrictMath.atan(x);
            case "asin": return StrictMath.asin(x);
            case "acos": return StrictMath.acos(x);
            case "sinh": return StrictMath.sinh(x);
            case "cosh": return StrictMath.cosh(x);
            case "tanh": return StrictMath.tanh(x);
            case "cbrt": return StrictMath.cbrt(x);
            default: throw new IllegalArgumentException(f);
        }
    }
}
