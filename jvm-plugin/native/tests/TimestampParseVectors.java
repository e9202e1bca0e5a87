// Writes what Spark's own parser (Iso8601TimestampFormatter, as to_timestamp(s, pattern) and
// unix_timestamp(s, pattern) use it) makes of random strings and patterns, for
// crate::timestamp_parse's unit test. One case per line, tab-separated:
//
//   zone  pattern  text  instant  local
//
// `text` with backslash escapes (a doubled backslash; a backslash, u and four hex digits for
// each character outside ASCII's printable ones); `instant` is `parse(text)` (microseconds),
// `local` is `parseWithoutTimeZone(text)`; each a number, `null` where Spark gives null (a
// DateTimeException or ParseException) or `E:` and the
// class of any other exception. Spark's jars (pyspark's) must be on the class path:
//
//   J=$(python3 -c 'import pyspark, os; print(os.path.dirname(pyspark.__file__))')/jars
//   java -cp "$J/*" jvm-plugin/native/tests/TimestampParseVectors.java 5000 1 \
//       > jvm-plugin/native/tests/timestamp_parse_vectors.txt
//
// The arguments: how many cases, and the seed. A larger run, checked without committing it:
//
//   java -cp "$J/*" jvm-plugin/native/tests/TimestampParseVectors.java 1000000 7 > /tmp/tp.txt
//   CINDER_TIMESTAMP_PARSE_VECTORS=/tmp/tp.txt cargo test -p cinder-jni timestamp_parse
import java.text.ParseException;
import java.time.DateTimeException;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.apache.spark.sql.catalyst.util.TimestampFormatter;
import org.apache.spark.sql.catalyst.util.TimestampFormatter$;

public class TimestampParseVectors {
    static Random random;

    static final String[] ZONES = {"UTC", "America/Los_Angeles", "Asia/Kolkata", "Europe/Berlin",
        "Australia/Lord_Howe", "America/Sao_Paulo"};

    static final String[] TEMPLATES = {"yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS",
        "yyyyMMdd", "dd/MM/yyyy", "MM/dd/yyyy hh:mm a", "yyyy-MM-dd'T'HH:mm:ss",
        "yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "dd MMM yyyy", "MMMM d, yyyy", "yyyyMMddHHmmss",
        "yyyyMMddHHmmssSSS", "HH:mm", "yyyy-DDD", "yy-M-d", "h:mm:ss a", "yyyy-MM", "MM-dd",
        "''yyyy''", "'at' HH 'h'", "yyyy-MM-dd HH:mm:ss.S", "yyyy-MM-dd'T'HH:mm:ssXXX",
        "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "yyyy-MM-dd HH:mm:ss Z", "yyyy-MM-dd HH:mm:ssx", "yyyyMMddHHmmssX",
        "yyyy-MM-dd HH:mm:ss XXXXX", "HH:mm xx", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSZZZZZ", "yyMMdd", "d.M.yy H:m", "kk:mm", "KK:mm a",
        "yyyy-MM-dd HH:mm:ss.SSSSSSSSS", "yyyyDDD", "ss.SSS", "yyyy-MM-dd HH", "MMMyyyy", "a hh",
        "yyyy-MM-dd'T'HH:mm:ss.SSS''", "y-M-d H:m:s", "yyyyy-MM-dd", "yyy/M/d"};

    static final String[] LETTERS = {"yyyy", "yy", "y", "yyy", "yyyyy", "yyyyyy", "MM", "M", "MMM",
        "MMMM", "dd", "d", "D", "DD", "DDD", "HH", "H", "hh", "h", "kk", "k", "KK", "K", "mm", "m",
        "ss", "s", "S", "SS", "SSS", "SSSSSS", "SSSSSSSSS", "a", "X", "XX", "XXX", "XXXX", "XXXXX", "x", "xx",
        "xxx", "xxxx", "xxxxx", "Z", "ZZ", "ZZZ", "ZZZZZ"};

    static final String[] SEPARATORS = {"-", "/", ":", " ", ".", ",", "'T'", "''", "", "", ""};

    static final String[] MONTHS = {"January", "February", "March", "April", "May", "June", "July",
        "August", "September", "October", "November", "December"};

    static final String NOISE = "0123456789-+ :/.aAPMTxſİıK\u0661\uff10";

    static String pattern() {
        if (random.nextInt(3) > 0) return TEMPLATES[random.nextInt(TEMPLATES.length)];
        StringBuilder p = new StringBuilder();
        int n = 1 + random.nextInt(6);
        for (int i = 0; i < n; i++) {
            if (i > 0) p.append(SEPARATORS[random.nextInt(SEPARATORS.length)]);
            p.append(LETTERS[random.nextInt(LETTERS.length)]);
        }
        return p.toString();
    }

    static String pad(long v, int width) {
        String digits = Long.toString(Math.abs(v));
        StringBuilder s = new StringBuilder(v < 0 ? "-" : "");
        for (int i = digits.length(); i < width; i++) s.append('0');
        return s.append(digits).toString();
    }

    static String cased(String s) {
        switch (random.nextInt(4)) {
            case 0: return s.toUpperCase();
            case 1: return s.toLowerCase();
            default: return s;
        }
    }

    /** A plausible value of a field, now and then out of range. */
    static long value(long lo, long hi) {
        int k = random.nextInt(20);
        if (k == 0) return lo - 1;
        if (k == 1) return hi + 1;
        if (k == 2) return random.nextInt(100);
        return lo + (long) (random.nextDouble() * (hi - lo + 1));
    }

    static long year() {
        int k = random.nextInt(10);
        if (k < 6) return 1900 + random.nextInt(200);
        if (k < 8) return random.nextInt(10000);
        if (k < 9) return -random.nextInt(3000);
        return random.nextInt(2) == 0 ? random.nextInt(1000000) : 290000 + random.nextInt(10000);
    }

    /** Text for the letters `run` (one letter repeated), or for a literal. */
    static String text(char letter, int count) {
        switch (letter) {
            case 'y': {
                long y = year();
                if (count == 2) return pad(Math.abs(y) % 100, 2);
                String s = pad(y, count);
                if (count >= 4 && y >= 0 && Long.toString(y).length() > count) s = "+" + s;
                return s;
            }
            case 'M': {
                long m = value(1, 12);
                if (count >= 3 && m >= 1 && m <= 12) {
                    String name = MONTHS[(int) m - 1];
                    return cased(count == 3 ? name.substring(0, 3) : name);
                }
                return pad(m, count >= 3 ? 1 : count);
            }
            case 'd': return pad(value(1, 31), count);
            case 'D': return pad(value(1, 366), count);
            case 'H': return pad(value(0, 23), count);
            case 'k': return pad(value(1, 24), count);
            case 'K': return pad(value(0, 11), count);
            case 'h': return pad(value(1, 12), count);
            case 'm': case 's': return pad(value(0, 59), count);
            case 'S': {
                int digits = random.nextInt(4) == 0 ? 1 + random.nextInt(count + 1) : count;
                StringBuilder s = new StringBuilder();
                for (int i = 0; i < digits; i++) s.append((char) ('0' + random.nextInt(10)));
                return s.toString();
            }
            case 'a': return cased(random.nextBoolean() ? "AM" : "PM");
            case 'X': case 'x': case 'Z': {
                String[] offsets = {"Z", "z", "+00", "+0000", "+00:00", "+05:30", "-08:00", "+0530", "+05", "-0800",
                    "+053045", "+05:30:45", "+18:00", "+18:01", "-18:00", "+24:00", "+23:59", "+05:3", "+5:30", "+05:60",
                    "-00", "+12:00:60", "+0100:00"};
                return offsets[random.nextInt(offsets.length)];
            }
            default: throw new IllegalArgumentException(String.valueOf(letter));
        }
    }

    /** A string much like what `pattern` reads, perhaps mutated. */
    static String input(String pattern) {
        StringBuilder s = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < pattern.length(); ) {
            char c = pattern.charAt(i);
            if (c == '\'') {
                if (i + 1 < pattern.length() && pattern.charAt(i + 1) == '\'') {
                    s.append('\'');
                    i += 2;
                } else {
                    quoted = !quoted;
                    i++;
                }
                continue;
            }
            if (!quoted && Character.isLetter(c)) {
                int j = i;
                while (j < pattern.length() && pattern.charAt(j) == c) j++;
                s.append(text(c, j - i));
                i = j;
            } else {
                s.append(quoted && random.nextInt(4) == 0 ? Character.toLowerCase(c) : c);
                i++;
            }
        }
        int mutations = random.nextInt(10) < 6 ? 0 : 1 + random.nextInt(2);
        for (int i = 0; i < mutations; i++) {
            int at = s.length() == 0 ? 0 : random.nextInt(s.length() + 1);
            char noise = NOISE.charAt(random.nextInt(NOISE.length()));
            switch (random.nextInt(6)) {
                case 0: if (at < s.length()) s.setCharAt(at, noise); break;
                case 1: if (at < s.length()) s.deleteCharAt(at); break;
                case 2: s.insert(at, noise); break;
                case 3: s.insert(at, (char) ('0' + random.nextInt(10))); break;
                case 4: s.setLength(at); break;
                default: s.append(noise); break;
            }
        }
        return s.toString();
    }

    static String escape(String s) {
        StringBuilder out = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '\\') out.append("\\\\");
            else if (c < 0x20 || c > 0x7e) out.append(String.format("\\u%04x", (int) c));
            else out.append(c);
        }
        return out.toString();
    }

    interface Parse { long apply() throws Exception; }

    static String outcome(Parse parse) {
        try {
            return Long.toString(parse.apply());
        } catch (DateTimeException | ParseException e) {
            return "null";
        } catch (Exception e) {
            return "E:" + e.getClass().getSimpleName();
        }
    }

    public static void main(String[] args) {
        int n = Integer.parseInt(args[0]);
        random = new Random(Long.parseLong(args[1]));
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < n; i++) {
            String zone = ZONES[random.nextInt(ZONES.length)];
            String pattern = pattern();
            String text = input(pattern);
            TimestampFormatter f;
            try {
                f = TimestampFormatter$.MODULE$.apply(pattern, ZoneId.of(zone), true);
            } catch (RuntimeException e) {
                // A pattern Spark refuses ("kkk" from "kk" and "k" side by side): another one.
                i--;
                continue;
            }
            out.append(zone).append('\t').append(pattern).append('\t').append(escape(text)).append('\t')
                .append(outcome(() -> f.parse(text))).append('\t')
                .append(outcome(() -> f.parseWithoutTimeZone(text))).append('\n');
            if (out.length() > 1 << 16) {
                System.out.print(out);
                out.setLength(0);
            }
        }
        System.out.print(out);
    }
}
