package io.wgcni.wg.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class PrefixTest {

    @ParameterizedTest
    @CsvSource({
        "10.0.0.0/24, 10.0.0.0/24",
        "10.1.2.3/24, 10.1.2.0/24",
        "10.1.2.3, 10.1.2.3/32",
        "0.0.0.0/0, 0.0.0.0/0",
        "255.255.255.255/0, 0.0.0.0/0",
        "192.168.7.255/23, 192.168.6.0/23",
        "192.95.5.65/27, 192.95.5.64/27",
        "fd00::/64, fd00::/64",
        "fd00::1234/64, fd00::/64",
        "FD00:0:0:0:0:0:0:1, fd00::1/128",
        "::/0, ::/0",
        "::1, ::1/128",
        "2001:db8::, 2001:db8::/128",
        "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1/128",
        "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1/128",
        "1:0:0:2:0:0:0:3, 1:0:0:2::3/128",
        "1:0:0:2:0:0:3:4, 1::2:0:0:3:4/128",
        "2404:6800:4004:800:dead:beef:dead:beef/64, 2404:6800:4004:800::/64",
        "2607:5300:6d8a:6bf8:dab1:f1df:c05f:1523/83, 2607:5300:6d8a:6bf8:dab1:e000::/83",
        "2607:5300:6d8a:6bf8:dab1:f1df:c05f:1523/21, 2607:5000::/21",
        "::ffff:10.1.2.3/120, ::ffff:a01:200/120",
    })
    void parsesAndCanonicalises(String text, String canonical) {
        Prefix p = Prefix.parse(text);
        assertEquals(canonical, p.toString());
        assertEquals(p, Prefix.parse(canonical));
    }

    @Test
    void bareAddressIsAHost() {
        assertEquals(32, Prefix.parse("10.9.8.7").bits());
        assertEquals(128, Prefix.parse("fe80::1").bits());
    }

    @Test
    void familyIsKeptEvenForMappedAddresses() {
        assertTrue(Prefix.parse("10.0.0.0/8").isV4());
        assertInstanceOf(Inet4Address.class, Prefix.parse("10.0.0.0/8").address());
        Prefix mapped = Prefix.parse("::ffff:10.0.0.0/104");
        assertFalse(mapped.isV4());
        assertInstanceOf(Inet6Address.class, mapped.address());
        assertEquals(16, mapped.addressBytes().length);
    }

    @Test
    void constructorMasksAndDropsScopeAndHostName() throws UnknownHostException {
        Prefix p = new Prefix(InetAddress.getByAddress("some.host", bytes(10, 1, 2, 3)), 24);
        assertEquals(Prefix.parse("10.1.2.0/24"), p);
        assertEquals("10.1.2.0/24", p.toString());
        Inet6Address scoped = Inet6Address.getByAddress(null, Prefix.parse("fe80::1").addressBytes(), 3);
        Prefix q = new Prefix(scoped, 128);
        assertEquals(Prefix.parse("fe80::1/128"), q);
        assertEquals("fe80::1/128", q.toString());
        assertEquals(0, ((Inet6Address) q.address()).getScopeId());
    }

    @Test
    void constructorMasksInsideAByte() throws UnknownHostException {
        Prefix p = new Prefix(InetAddress.getByAddress(bytes(255, 255, 255, 255)), 13);
        assertArrayEquals(bytes(255, 248, 0, 0), p.addressBytes());
    }

    @Test
    void constructorRejectsLengthsOutOfRange() throws UnknownHostException {
        InetAddress v4 = InetAddress.getByAddress(bytes(10, 0, 0, 0));
        InetAddress v6 = Prefix.parse("fd00::").address();
        assertThrows(IllegalArgumentException.class, () -> new Prefix(v4, 33));
        assertThrows(IllegalArgumentException.class, () -> new Prefix(v4, -1));
        assertThrows(IllegalArgumentException.class, () -> new Prefix(v6, 129));
        assertThrows(IllegalArgumentException.class, () -> new Prefix(v6, -1));
        assertEquals(128, new Prefix(v6, 128).bits());
        assertThrows(NullPointerException.class, () -> new Prefix(null, 0));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "", "/", "/24", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/08x",
        "10.0.0.0/24/1", "10.0.0.0/1000", "10.0.0", "10", "10.0.0.0.0", "256.0.0.0", "1.2.3.-4",
        "01.2.3.4", "1..3.4", "1.2.3.4.", " 10.0.0.0/8", "10.0.0.0 /8", "localhost", "example.com",
        "0x0a.0.0.1", "::/129", "fd00::/-0", "fe80::1%1", "fe80::1%eth0/64", "[::1]", "[::1]/128", "1:2:3",
        "1:2:3:4:5:6:7:8:9", "::g", "10.0.0.0/٣",
    })
    void rejectsWithTheInputQuoted(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Prefix.parse(text));
        assertTrue(e.getMessage().contains("\"" + text + "\""), e.getMessage());
    }

    @Test
    void containsMatchesFamilyAndMaskedBits() {
        Prefix p = Prefix.parse("192.168.4.0/22");
        assertTrue(p.contains(Prefix.parse("192.168.7.255").address()));
        assertTrue(p.contains(Prefix.parse("192.168.4.0").address()));
        assertFalse(p.contains(Prefix.parse("192.168.8.0").address()));
        assertFalse(p.contains(Prefix.parse("::ffff:192.168.4.1").address()));
        assertTrue(Prefix.parse("0.0.0.0/0").contains(Prefix.parse("1.2.3.4").address()));
        assertFalse(Prefix.parse("0.0.0.0/0").contains(Prefix.parse("::").address()));
        Prefix v6 = Prefix.parse("2404:6800::/32");
        assertTrue(v6.contains(Prefix.parse("2404:6800:ffff::1").address()));
        assertFalse(v6.contains(Prefix.parse("2404:6801::").address()));
        assertTrue(Prefix.parse("::/0").contains(Prefix.parse("ffff::").address()));
    }

    @Test
    void addressBytesIsACopy() {
        Prefix p = Prefix.parse("10.0.0.0/8");
        byte[] raw = p.addressBytes();
        raw[0] = 99;
        assertNotSame(raw, p.addressBytes());
        assertEquals(10, p.addressBytes()[0]);
    }

    private static byte[] bytes(int... values) {
        byte[] raw = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            raw[i] = (byte) values[i];
        }
        return raw;
    }
}
