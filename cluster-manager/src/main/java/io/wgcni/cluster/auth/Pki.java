package io.wgcni.cluster.auth;

import io.wgcni.api.cluster.ClusterClient;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The cluster's certificate authority, kept in the data directory: {@code ca.crt}/{@code ca.key} (created on first
 * start, ECDSA P-256, 10 years) and {@code server.crt}/{@code server.key} (issued anew at every start, so that new
 * --server-name values apply). Every file is mode 0600.
 */
public final class Pki {
    public static final String NODE_ORG = "wgcni-node";
    public static final String ADMIN_ORG = "wgcni-admin";
    public static final String ADMIN = "admin";
    private static final Duration CA_VALIDITY = Duration.ofDays(3650);
    private static final Duration LEAF_VALIDITY = Duration.ofDays(365);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final X509Certificate ca;
    private final PrivateKey caKey;

    private Pki(X509Certificate ca, PrivateKey caKey) {
        this.ca = ca;
        this.caKey = caKey;
    }

    /** True when dataDir holds a CA (both files; {@link #loadOrCreate} reports a half). */
    public static boolean exists(Path dataDir) {
        return Files.exists(dataDir.resolve("ca.crt")) || Files.exists(dataDir.resolve("ca.key"));
    }

    /** Loads the CA from dataDir, creating it on first use. */
    public static Pki loadOrCreate(Path dataDir) throws IOException {
        Path crt = dataDir.resolve("ca.crt");
        Path key = dataDir.resolve("ca.key");
        if (Files.exists(crt) && Files.exists(key)) {
            return new Pki(readCertificate(crt), readKey(key));
        }
        if (Files.exists(crt) || Files.exists(key)) {
            throw new IOException(dataDir + " holds only one of ca.crt and ca.key: restore the other or remove both");
        }
        KeyPair pair = newKeyPair();
        X500Name name = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "wgcni")
                .addRDN(BCStyle.CN, "wgcni cluster CA").build();
        try {
            Instant now = Instant.now();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(),
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(CA_VALIDITY)), name,
                    pair.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
            X509Certificate cert = sign(b, pair.getPrivate());
            // The key first: a crash in between leaves a state loadOrCreate reports instead of a CA with no key.
            writePrivate(key, pem("PRIVATE KEY", pair.getPrivate().getEncoded()));
            writePrivate(crt, pem("CERTIFICATE", cert.getEncoded()));
            return new Pki(cert, pair.getPrivate());
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IOException("cannot create the cluster CA: " + e.getMessage(), e);
        }
    }

    public X509Certificate ca() {
        return ca;
    }

    /** The pin carried in join strings: SHA-256 of the CA's SubjectPublicKeyInfo. */
    public byte[] caKeyHash() {
        return ClusterClient.spkiHash(ca);
    }

    /** Issues the server certificate and writes server.crt and server.key into dataDir. */
    public ServerIdentity issueServer(Path dataDir, List<String> extraNames) throws IOException {
        KeyPair pair = newKeyPair();
        Set<String> names = new LinkedHashSet<>(List.of(ClusterClient.SERVER_NAME, "localhost", "127.0.0.1", "::1"));
        names.addAll(extraNames);
        List<GeneralName> sans = new ArrayList<>();
        for (String n : names) {
            byte[] ip = io.wgcni.cluster.ipam.Cidr.literal(n);
            try {
                sans.add(ip != null
                        ? new GeneralName(GeneralName.iPAddress, InetAddress.getByAddress(ip).getHostAddress())
                        : new GeneralName(GeneralName.dNSName, n));
            } catch (java.net.UnknownHostException e) {
                throw new IllegalStateException(e);
            }
        }
        X509Certificate cert = issue(pair.getPublic(), ClusterClient.SERVER_NAME, "wgcni",
                KeyPurposeId.id_kp_serverAuth, new GeneralNames(sans.toArray(GeneralName[]::new)));
        try {
            writePrivate(dataDir.resolve("server.key"), pem("PRIVATE KEY", pair.getPrivate().getEncoded()));
            writePrivate(dataDir.resolve("server.crt"),
                    pem("CERTIFICATE", cert.getEncoded()) + pem("CERTIFICATE", ca.getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new IOException(e);
        }
        return new ServerIdentity(pair.getPrivate(), cert);
    }

    public record ServerIdentity(PrivateKey key, X509Certificate certificate) {}

    /** A node's client certificate: CN = node name, O = wgcni-node. */
    public X509Certificate issueNode(PublicKey key, String node) {
        return issue(key, node, NODE_ORG, KeyPurposeId.id_kp_clientAuth, null);
    }

    /** An operator's client certificate: CN = admin, O = wgcni-admin. */
    public X509Certificate issueAdmin(PublicKey key) {
        return issue(key, ADMIN, ADMIN_ORG, KeyPurposeId.id_kp_clientAuth, null);
    }

    private X509Certificate issue(PublicKey key, String cn, String org, KeyPurposeId purpose, GeneralNames sans) {
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, org).addRDN(BCStyle.CN, cn).build();
        Instant now = Instant.now();
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca, serial(),
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(LEAF_VALIDITY)), subject, key);
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca));
            if (sans != null) {
                b.addExtension(Extension.subjectAlternativeName, false, sans);
            }
            return sign(b, caKey);
        } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
            throw new IllegalStateException("cannot issue a certificate for " + cn + ": " + e.getMessage(), e);
        }
    }

    /** Accepts a public key in SubjectPublicKeyInfo DER if it is an EC P-256 key. */
    public static PublicKey parseNodeKey(byte[] der) {
        try {
            PublicKey key = KeyFactory.getInstance("EC").generatePublic(new java.security.spec.X509EncodedKeySpec(der));
            if (key instanceof java.security.interfaces.ECPublicKey ec
                    && ec.getParams().getCurve().getField().getFieldSize() == 256) {
                return key;
            }
        } catch (GeneralSecurityException | RuntimeException e) {
            // fall through
        }
        throw new IllegalArgumentException("public_key_der must be an EC P-256 SubjectPublicKeyInfo");
    }

    public static KeyPair newKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key)
            throws OperatorCreationException, GeneralSecurityException {
        return new JcaX509CertificateConverter()
                .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).add(BigInteger.ONE);
    }

    private static X509Certificate readCertificate(Path file) throws IOException {
        try (var in = Files.newInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        } catch (GeneralSecurityException e) {
            throw new IOException(file + ": not an X.509 certificate", e);
        }
    }

    private static PrivateKey readKey(Path file) throws IOException {
        String text = Files.readString(file);
        String body = text.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        try {
            return KeyFactory.getInstance("EC")
                    .generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(body)));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IOException(file + ": not a PKCS#8 EC private key");
        }
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    /**
     * Writes through a temporary file created mode 0600, then renames: never readable by others, never torn, durable.
     */
    private static void writePrivate(Path file, String content) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, content, java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.SYNC);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        // The rename is durable only once the directory is: else a power cut on first start can lose ca.crt
        // after its key was used, or both, and the next start makes a second CA.
        try (java.nio.channels.FileChannel dir = java.nio.channels.FileChannel.open(file.toAbsolutePath().getParent(),
                java.nio.file.StandardOpenOption.READ)) {
            dir.force(true);
        }
    }
}
