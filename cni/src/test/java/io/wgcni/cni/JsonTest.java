package io.wgcni.cni;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonTest {

    @Test
    void readsEveryKindOfValue() throws Exception {
        Object value = Json.parse(
                " {\"a\": [1, -2, 3.5, 1e3, -0, 0.0, true, false, null, \"x\"], \"b\": {}, \"c\": []}\r\n\t");
        Map<String, Object> expected = new LinkedHashMap<>();
        List<Object> a = new ArrayList<>(List.of(1L, -2L, new BigDecimal("3.5"), new BigDecimal("1e3"), 0L,
                new BigDecimal("0.0"), true, false));
        a.add(null);
        a.add("x");
        expected.put("a", a);
        expected.put("b", Map.of());
        expected.put("c", List.of());
        assertEquals(expected, value);
    }

    @Test
    void readsEscapesAndSurrogatePairs() throws Exception {
        assertEquals("\"\\/\b\f\n\r\t\u00e9\u20ac\ud83d\ude00",
                Json.parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\""));
        assertEquals("\u00e9\ud83d\ude00", Json.parse("\"\u00e9\ud83d\ude00\""));
    }

    @Test
    void keepsKeyOrderAndTheLastOfDuplicateKeys() throws Exception {
        assertEquals("{\"b\":1,\"a\":3}", Json.write(Json.parse("{\"b\":1,\"a\":2,\"a\":3}")));
    }

    @Test
    void keepsNumbersExact() throws Exception {
        assertEquals("[9223372036854775807,-9223372036854775808,12345678901234567890,0.1,1E+400,-1.5e-7]",
                Json.write(Json.parse(
                        "[9223372036854775807,-9223372036854775808,12345678901234567890,0.1,1E+400,-1.5e-7]"))
                        .replace("1.5E-7", "1.5e-7"));
        assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "{", "}", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{1:1}",
        "\"abc", "\"\\x\"", "\"\\u12G4\"", "\"\\u12\"", "01", "-", "1.", ".5", "+1", "1e", "1e+", "0x1", "NaN",
        "Infinity", "tru", "nul", "True", "[1] x", "{} {}", "\"a\"\"b\"", "\"tab\there\"", "\"nl\nhere\"",
        "[1 2]", "\u00a0[]", "[\"a\",]"})
    void rejectsWhatRfc8259Rejects(String text) {
        assertThrows(Json.ParseException.class, () -> Json.parse(text), text);
    }

    @Test
    void refusesPathologicalNesting() throws Exception {
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        Json.parse(ok);
        String deep = "[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1);
        assertThrows(Json.ParseException.class, () -> Json.parse(deep));
    }

    @Test
    void writesEscapes() {
        assertEquals("\"q\\\" b\\\\ n\\n t\\t c\\u0001 d\\u001f e\u00e9 s\ud83d\ude00 lone\\ud800 /\"",
                Json.write("q\" b\\ n\n t\t c\u0001 d\u001f e\u00e9 s\ud83d\ude00 lone\ud800 /"));
    }

    /** Property: any value survives write then parse, for random documents with awkward strings and numbers. */
    @Test
    void randomDocumentsRoundTrip() throws Exception {
        Random random = new Random(42);
        for (int i = 0; i < 2000; i++) {
            Object value = randomValue(random, 0);
            String text = Json.write(value);
            assertEquals(value, Json.parse(text), text);
            assertEquals(text, Json.write(Json.parse(text)));
        }
    }

    private static Object randomValue(Random random, int depth) {
        int kind = random.nextInt(depth > 4 ? 5 : 7);
        return switch (kind) {
            case 0 -> null;
            case 1 -> random.nextBoolean();
            case 2 -> random.nextLong() >> random.nextInt(64);
            case 3 -> {
                // Scale 0 would print as an integer, which reads back as a Long.
                BigDecimal d = new BigDecimal(random.nextInt() + "." + Math.abs(random.nextInt(1000)))
                        .scaleByPowerOfTen(random.nextInt(20) - 10);
                yield d.scale() == 0 ? d.setScale(1) : d;
            }
            case 4 -> randomString(random);
            case 5 -> {
                List<Object> list = new ArrayList<>();
                for (int n = random.nextInt(5); n > 0; n--) {
                    list.add(randomValue(random, depth + 1));
                }
                yield list;
            }
            default -> {
                Map<String, Object> map = new LinkedHashMap<>();
                for (int n = random.nextInt(5); n > 0; n--) {
                    map.put(randomString(random), randomValue(random, depth + 1));
                }
                yield map;
            }
        };
    }

    private static String randomString(Random random) {
        StringBuilder s = new StringBuilder();
        for (int n = random.nextInt(8); n > 0; n--) {
            switch (random.nextInt(6)) {
                case 0 -> s.append((char) random.nextInt(0x20));
                case 1 -> s.append("\"\\/");
                case 2 -> s.appendCodePoint(0x10000 + random.nextInt(0xFFFFF));
                case 3 -> s.append((char) (0x80 + random.nextInt(0xD000)));
                default -> s.append((char) ('a' + random.nextInt(26)));
            }
        }
        return s.toString();
    }

    @Test
    void aNumberBeyondTheRangeIsAParseErrorNotACrash() {
        // Found by CniFuzzTest: BigDecimal refuses an exponent beyond an int with a NumberFormatException.
        org.junit.jupiter.api.Assertions.assertThrows(Json.ParseException.class,
                () -> Json.parse("{\"mtu\":1e99999999999}"));
    }
}
