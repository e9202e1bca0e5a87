// Prints doubles and floats with the running JVM's Double.toString and Float.toString, for
// crate::java_float's `agrees_with_a_jvm` test (run with Java 19 or later):
//
//   javac -d /tmp JavaFloatStrings.java && java -cp /tmp JavaFloatStrings 42 3000000 > /tmp/java.tsv
//   JAVA_FLOAT_STRINGS=/tmp/java.tsv cargo test --release -p cinder-jni --lib java_float -- --ignored
//
// Each line: double bits (hex), Double.toString, float bits (hex), Float.toString. The values
// mix random bit patterns, short decimals, subnormals, binade edges, powers of ten and
// scaled random doubles.
import java.io.BufferedOutputStream;
import java.io.PrintStream;
import java.util.Random;

public class JavaFloatStrings {
  public static void main(String[] args) {
    Random r = new Random(Long.parseLong(args[0]));
    int n = Integer.parseInt(args[1]);
    PrintStream out = new PrintStream(new BufferedOutputStream(System.out, 1 << 20));
    for (int i = 0; i < n; i++) {
      double d;
      float f;
      switch (i % 6) {
        case 0:
          d = Double.longBitsToDouble(r.nextLong());
          f = Float.intBitsToFloat(r.nextInt());
          break;
        case 1:
          d = r.nextInt(100000) / Math.pow(10, r.nextInt(12));
          f = (float) d;
          break;
        case 2:
          d = Double.longBitsToDouble(r.nextInt(1 << 20));
          f = Float.intBitsToFloat(r.nextInt(1 << 12));
          break;
        case 3: {
          int e = r.nextInt(2046) + 1;
          d = Double.longBitsToDouble(((long) e << 52) | (r.nextBoolean() ? 0 : 1));
          int fe = r.nextInt(254) + 1;
          f = Float.intBitsToFloat((fe << 23) | (r.nextBoolean() ? 0 : 1));
          break;
        }
        case 4:
          d = Math.pow(10, r.nextInt(600) - 300) * (r.nextInt(9) + 1);
          f = (float) (Math.pow(10, r.nextInt(76) - 38) * (r.nextInt(9) + 1));
          break;
        default:
          d = r.nextDouble() * Math.pow(2, r.nextInt(200) - 100);
          f = (float) d;
          break;
      }
      if (Double.isNaN(d)) d = 1.5;
      if (Float.isNaN(f)) f = 1.5f;
      out.print(Long.toHexString(Double.doubleToRawLongBits(d)));
      out.print('\t');
      out.print(Double.toString(d));
      out.print('\t');
      out.print(Integer.toHexString(Float.floatToRawIntBits(f)));
      out.print('\t');
      out.println(Float.toString(f));
    }
    out.flush();
  }
}
