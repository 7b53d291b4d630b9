package io.wgcni.tun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class LinksTest {
    @RegisterExtension
    final Namespaces fixture = new Namespaces();

    @Test
    void setsTheMtuAndTheTunSeesIt() throws Exception {
        String ns = fixture.create();
        LinuxTun tun = fixture.closeLater(LinuxTun.createIn(ns, "wgt0", 1420));
        Links links = Links.in(ns);
        assertEquals(1420, links.mtu("wgt0"));

        links.setMtu("wgt0", 1300);
        assertEquals(1300, links.mtu("wgt0"));
        assertEquals(1420, tun.mtu(), "cached until refreshed");
        assertEquals(1300, tun.refreshMtu());
        assertEquals(1300, tun.mtu());

        tun.setMtu(1280); // an ioctl in the TUN's namespace, from this (host) thread
        assertEquals(1280, tun.mtu());
        assertEquals(1280, links.mtu("wgt0"));
    }

    @Test
    void setsLinksUpAndDown() throws Exception {
        String ns = fixture.create();
        fixture.closeLater(LinuxTun.createIn(ns, "wgt0", 1420));
        Links links = Links.in(ns);
        assertFalse(links.isUp("wgt0"));
        links.setUp("wgt0");
        assertTrue(links.isUp("wgt0"));
        links.setDown("wgt0");
        assertFalse(links.isUp("wgt0"));
    }

    @Test
    void addsAddressesAndRoutesOfBothFamilies() throws Exception {
        String ns = fixture.create();
        fixture.closeLater(LinuxTun.createIn(ns, "wgt0", 1420));
        Links links = Links.in(ns);
        links.addAddress("wgt0", "10.78.0.1/24");
        links.addAddress("wgt0", "fd00:78::1/64");
        links.setUp("wgt0");
        String addresses = links.ip("-o", "address", "show", "dev", "wgt0");
        assertTrue(addresses.contains("10.78.0.1/24") && addresses.contains("fd00:78::1/64"), addresses);

        links.addRoute("10.79.0.0/16", "wgt0");
        links.addRoute("fd00:79::/48", "wgt0");
        assertTrue(links.ip("route", "show", "dev", "wgt0").contains("10.79.0.0/16"));
        assertTrue(links.ip("-6", "route", "show", "dev", "wgt0").contains("fd00:79::/48"));
        links.deleteRoute("10.79.0.0/16", "wgt0");
        links.deleteRoute("fd00:79::/48", "wgt0");
        assertFalse(links.ip("route", "show", "dev", "wgt0").contains("10.79.0.0/16"));
        assertFalse(links.ip("-6", "route", "show", "dev", "wgt0").contains("fd00:79::/48"));

        links.deleteAddress("wgt0", "10.78.0.1/24");
        assertFalse(links.ip("-o", "address", "show", "dev", "wgt0").contains("10.78.0.1/24"));
    }

    @Test
    void deletesLinksAndTellsWhetherTheyExist() throws Exception {
        String ns = fixture.create();
        LinuxTun tun = fixture.closeLater(LinuxTun.createIn(ns, "wgt0", 1420));
        Links links = Links.in(ns);
        assertTrue(links.exists("wgt0"));
        links.delete("wgt0");
        assertFalse(links.exists("wgt0"));
        tun.close();
    }

    @Test
    void worksInANamespaceGivenByPath() throws Exception {
        String ns = fixture.create();
        fixture.closeLater(LinuxTun.createIn(ns, "wgt0", 1420));
        Links byPath = Links.in(Netns.path(ns).toString()); // nsenter --net=PATH ip ...
        assertTrue(byPath.exists("wgt0"));
        byPath.setMtu("wgt0", 1350);
        assertEquals(1350, Links.in(ns).mtu("wgt0"));
    }

    @Test
    void aFailureCarriesTheCommandAndItsStderr() throws Exception {
        String ns = fixture.create();
        Links links = Links.in(ns);
        assertFalse(links.exists("nothere0"));
        CommandException e = assertThrows(CommandException.class, () -> links.setMtu("nothere0", 1300));
        assertEquals(java.util.List.of(Links.ipCommand(), "-n", ns, "link", "set", "dev", "nothere0", "mtu", "1300"),
                e.command());
        assertTrue(e.exitCode() > 0);
        assertTrue(e.stderr().contains("nothere0"), e.stderr());
        assertTrue(e.getMessage().contains("link set dev nothere0 mtu 1300")
                && e.getMessage().contains(e.stderr().strip()), e.getMessage());
        assertThrows(CommandException.class, () -> links.addAddress("wgt0", "not-an-address"));
    }
}
