// Writes what java.util.regex makes of random patterns and strings (Spark's rlike:
// `Pattern.compile(pattern).matcher(text).find()`), for crate::java_regex's unit test. One case
// per line, tab-separated:
//
//   pattern  text  find  extract  replace
//
// `find` is `true`, `false`, or `ERR` where Java refuses the pattern (the text and the rest are
// then empty). `extract` is the first match's group 1 (group 0 for a pattern without groups),
// `NOMATCH` or `NULL` (the group took no part); `replace` is `Matcher.replaceAll` with
// `<$0|$1>` (`<$0>` without groups), both escaped as the text is.
// Pattern and text with backslash escapes: a doubled backslash; a backslash, u and four hex digits
// for each character outside ASCII's printable ones (and for a tab).
//
//   java jvm-plugin/native/tests/RegexVectors.java 3000 1 > jvm-plugin/native/tests/regex_vectors.txt
//
// The arguments: how many patterns (each with a few texts), the seed, and optionally `groups`
// (see GROUP_TOKENS). A larger run, checked without committing it:
//
//   java jvm-plugin/native/tests/RegexVectors.java 300000 7 > /tmp/regex.txt
//   CINDER_REGEX_VECTORS=/tmp/regex.txt cargo test -p cinder-jni java_regex
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

public class RegexVectors {
    static Random random;

    // Pieces of patterns: what the translation accepts, and (less often) what it must refuse.
    static final String[] TOKENS = {"a", "b", "A", "B", "z", "Z", "_", "0", "9", "\u00e9", "\u00c9", " ", "-", ",",
        "\\.", "\\-", "\\$", "\\^", "\\\\", "\\n", "\\t", "\\r", "\\x41", "\\x{2028}", "\\u00e9", "\\e", "\\\u00e9",
        ".", ".", "\\d", "\\w", "\\s", "\\D", "\\W", "\\S",
        "[a-c]", "[^a]", "[A-Z0-9_]", "[\\w-]", "[a-]", "[-a]", "[.$]", "[a-b-c]", "[Z-a]", "[^\\s]", "[\\x41-\\x43]",
        "[\u00e0-\u00ff]", "[a&b]", "[\\n\\r]", "[^\\n]", "[\\]]", "[]a]", "[^]", "[a&&b]", "[a[b]]", "[c-a]",
        "(?i)", "(?s)", "(?-i)", "(?is)", "(?i:", "(?s:", "(", "(", "(?:", "(?<n>", "(?<m1>", ")", ")", ")", "|", "|",
        "^", "$", "$", "\\A",
        "*", "+", "?", "{2}", "{1,3}", "{2,}", "*?", "+?", "??", "*+", "{3,1}", "{", "}", "]",
        "\\b", "\\1", "(?=a)", "(?!a)", "(?<=a)", "(?>a)", "\\Q.\\E", "\\p{L}", "\\z", "\\Z", "\\0", "a{,2}", "(?m)",
        "(?x)", "(?u)", "\\h", "\\R"};

    // With a third argument `groups`: groups, alternation and quantifiers over a small alphabet,
    // where the engines' choices among matches show.
    static final String[] GROUP_TOKENS = {"a", "b", "x", ".", "[ab]", "(", "(", "(?:", "(?<g>", ")", ")", ")",
        "|", "|", "*", "+", "?", "{1,2}", "*?", "+?", "??"};

    static String[] tokens = TOKENS;

    static String text = null;

    static final String TEXT = "aAbBcZz_09 .-,$\u00e9\u00c9\n\r\u0085\u2028\u2029\t";

    static String pattern() {
        StringBuilder p = new StringBuilder();
        int n = 1 + random.nextInt(8);
        for (int i = 0; i < n; i++) p.append(tokens[random.nextInt(tokens.length)]);
        return p.toString();
    }

    static String text() {
        StringBuilder s = new StringBuilder();
        int n = random.nextInt(9);
        String alphabet = text == null ? TEXT : text;
        for (int i = 0; i < n; i++) s.append(alphabet.charAt(random.nextInt(alphabet.length())));
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

    public static void main(String[] args) {
        int n = Integer.parseInt(args[0]);
        random = new Random(Long.parseLong(args[1]));
        if (args.length > 2 && args[2].equals("groups")) {
            tokens = GROUP_TOKENS;
            text = "aabbx";
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < n; i++) {
            String pattern = pattern();
            Pattern compiled;
            try {
                compiled = Pattern.compile(pattern);
            } catch (PatternSyntaxException e) {
                out.append(escape(pattern)).append("\t\tERR\t\t\n");
                continue;
            }
            for (int k = 0; k < 4; k++) {
                String text = text();
                Matcher m = compiled.matcher(text);
                boolean found = m.find();
                int groups = m.groupCount();
                String extract = !found ? "NOMATCH"
                    : m.group(Math.min(1, groups)) == null ? "NULL" : escape(m.group(Math.min(1, groups)));
                String replaced = escape(compiled.matcher(text).replaceAll(groups > 0 ? "<$0|$1>" : "<$0>"));
                out.append(escape(pattern)).append('\t').append(escape(text)).append('\t').append(found)
                    .append('\t').append(extract).append('\t').append(replaced).append('\n');
            }
            if (out.length() > 1 << 16) {
                System.out.print(out);
                out.setLength(0);
            }
        }
        System.out.print(out);
    }
}
