package io.wgcni.cluster.ipam;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CidrTest {
    @Test
    void subnetsOfAPrefix() {
        Cidr c = Cidr.parse("10.100.0.0/16");
        assertEquals(256, c.count(24));
        assertEquals("10.100.0.0/24", c.subnet(0, 24).toString());
        assertEquals("10.100.255.0/24", c.subnet(255, 24).toString());
        assertThrows(IllegalArgumentException.class, () -> c.subnet(256, 24));
        assertTrue(c.contains(Cidr.parse("10.100.3.128/25")));
        assertFalse(c.contains(Cidr.parse("10.101.0.0/24")));
        assertFalse(c.contains(Cidr.parse("10.0.0.0/8")));
        assertFalse(c.contains(Cidr.parse("::/0")));
    }

    @Test
    void ipv6IsWrittenAsRfc5952() {
        Cidr c = Cidr.parse("fd00:100::/48");
        assertEquals("fd00:100::/64", c.subnet(0, 64).toString());
        assertEquals("fd00:100:0:3::/64", c.subnet(3, 64).toString());
        assertEquals("fd00:100:0:ffff::/64", c.subnet(65535, 64).toString());
        assertEquals(Integer.MAX_VALUE, Cidr.parse("fd00::/8").count(64));
        assertEquals("::/0", Cidr.parse("0:0::0/0").toString());
        assertEquals("2001:db8:0:1:1:1:1:1/128", Cidr.parse("2001:DB8:0:1:1:1:1:1/128").toString());
        assertEquals("2001:db8::1:0:0:1/128", Cidr.parse("2001:db8:0:0:1:0:0:1/128").toString());
    }

    @Test
    void rejectsWhatIsNotACanonicalPrefix() {
        for (String bad : new String[] {"10.1.2.3/16", "10.0.0.0", "10.0.0.0/33", "300.0.0.0/8", "example.com/24",
                "10.0.0.0/x", "fd00::1/64", "::/129"}) {
            assertThrows(IllegalArgumentException.class, () -> Cidr.parse(bad), bad);
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Cidr.parse("10.1.2.3/16")).getMessage()
                .contains("did you mean 10.1.0.0/16"));
        assertNull(Cidr.literal("localhost"));
    }
}
