package io.wgcni.api.cluster;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.nio.channels.FileChannel;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * A node's (or admin's) TLS identity, stored in a directory: {@code ca.crt}, {@code tls.crt} (PEM) and
 * {@code tls.key} (PKCS#8 PEM, mode 0600). The directory itself is mode 0700.
 */
public final class Credentials {
    static final String CA = "ca.crt";
    static final String CERT = "tls.crt";
    static final String KEY = "tls.key";
    /** The key pair of a join in progress (see {@link #pendingKeyPair}). */
    static final String PENDING_KEY = "join.key";
    static final String PENDING_PUBLIC_KEY = "join.pub";

    private final X509Certificate certificate;
    private final X509Certificate ca;
    private final PrivateKey privateKey;
    private final String name;

    private Credentials(X509Certificate certificate, X509Certificate ca, PrivateKey privateKey) {
        this.certificate = certificate;
        this.ca = ca;
        this.privateKey = privateKey;
        this.name = commonName(certificate);
    }

    public static boolean exist(Path dir) {
        return Files.isRegularFile(dir.resolve(CA)) && Files.isRegularFile(dir.resolve(CERT))
                && Files.isRegularFile(dir.resolve(KEY));
    }

    public static Credentials load(Path dir) throws IOException {
        X509Certificate ca = parseCertificate(Files.readString(dir.resolve(CA)), dir.resolve(CA));
        X509Certificate cert = parseCertificate(Files.readString(dir.resolve(CERT)), dir.resolve(CERT));
        byte[] der = pemBody(Files.readString(dir.resolve(KEY)), "PRIVATE KEY", dir.resolve(KEY));
        try {
            PrivateKey key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der));
            return new Credentials(cert, ca, key);
        } catch (GeneralSecurityException e) {
            throw new IOException(dir.resolve(KEY) + ": not a PKCS#8 EC private key", e);
        }
    }

    /**
     * Writes the three files into dir (created mode 0700; the key 0600, written before anything can read it) and
     * returns them loaded. Existing files are replaced.
     */
    public static Credentials save(Path dir, PrivateKey key, X509Certificate certificate, X509Certificate ca)
            throws IOException {
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        try {
            writeAtomically(dir, CA, pem("CERTIFICATE", ca.getEncoded()), "rw-r--r--");
            writeAtomically(dir, CERT, pem("CERTIFICATE", certificate.getEncoded()), "rw-r--r--");
        } catch (CertificateException e) {
            throw new IOException("cannot encode a certificate", e);
        }
        writeAtomically(dir, KEY, pem("PRIVATE KEY", key.getEncoded()), "rw-------");
        Files.deleteIfExists(dir.resolve(PENDING_PUBLIC_KEY));
        Files.deleteIfExists(dir.resolve(PENDING_KEY));
        fsync(dir);
        return new Credentials(certificate, ca, key);
    }

    /**
     * The TLS key pair of a join in progress in dir: the one a previous, unfinished join left there, or a new one
     * written ({@value #PENDING_KEY} 0600 first, then {@value #PENDING_PUBLIC_KEY}) before Join is ever called. A
     * Join whose reply was lost is then repeated with the same key, and the cluster answers it with the same
     * certificate. Credentials already in dir stay untouched until {@link #save} replaces them.
     */
    public static KeyPair pendingKeyPair(Path dir) throws IOException {
        Path key = dir.resolve(PENDING_KEY);
        Path pub = dir.resolve(PENDING_PUBLIC_KEY);
        if (Files.isRegularFile(key) && Files.isRegularFile(pub)) {
            try {
                KeyFactory ec = KeyFactory.getInstance("EC");
                return new KeyPair(
                        ec.generatePublic(new X509EncodedKeySpec(pemBody(Files.readString(pub), "PUBLIC KEY", pub))),
                        ec.generatePrivate(
                                new PKCS8EncodedKeySpec(pemBody(Files.readString(key), "PRIVATE KEY", key))));
            } catch (GeneralSecurityException | IOException e) {
                // Never sent with a Join that succeeded, or the certificate would be here too: start afresh.
            }
        }
        KeyPair pair;
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            pair = generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK cannot generate P-256 keys", e);
        }
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Files.deleteIfExists(pub);
        writeAtomically(dir, PENDING_KEY, pem("PRIVATE KEY", pair.getPrivate().getEncoded()), "rw-------");
        writeAtomically(dir, PENDING_PUBLIC_KEY, pem("PUBLIC KEY", pair.getPublic().getEncoded()), "rw-r--r--");
        return pair;
    }

    /** The certificate's subject CN: the node name, or "admin". */
    public String name() {
        return name;
    }

    public X509Certificate certificate() {
        return certificate;
    }

    public X509Certificate ca() {
        return ca;
    }

    PrivateKey privateKey() {
        return privateKey;
    }

    @Override
    public String toString() {
        return "Credentials[" + name + ", serial " + certificate.getSerialNumber().toString(16) + "]";
    }

    static String commonName(X509Certificate certificate) {
        try {
            for (Rdn rdn : new LdapName(certificate.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return rdn.getValue().toString();
                }
            }
        } catch (InvalidNameException e) {
            throw new IllegalArgumentException("certificate subject cannot be parsed", e);
        }
        throw new IllegalArgumentException("certificate has no CN: " + certificate.getSubjectX500Principal());
    }

    static X509Certificate parseCertificate(byte[] der) throws CertificateException {
        return (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(der));
    }

    private static X509Certificate parseCertificate(String pem, Path file) throws IOException {
        try {
            return parseCertificate(pemBody(pem, "CERTIFICATE", file));
        } catch (CertificateException e) {
            throw new IOException(file + ": not an X.509 certificate", e);
        }
    }

    private static byte[] pemBody(String pem, String type, Path file) throws IOException {
        String begin = "-----BEGIN " + type + "-----";
        String end = "-----END " + type + "-----";
        int b = pem.indexOf(begin);
        int e = pem.indexOf(end);
        if (b < 0 || e < b) {
            throw new IOException(file + ": no PEM " + type + " block");
        }
        try {
            return Base64.getMimeDecoder().decode(pem.substring(b + begin.length(), e));
        } catch (IllegalArgumentException ex) {
            throw new IOException(file + ": bad base64 in the PEM " + type + " block");
        }
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    private static void writeAtomically(Path dir, String name, String content, String mode) throws IOException {
        Path tmp = dir.resolve(name + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode)));
        Files.writeString(tmp, content, StandardOpenOption.WRITE, StandardOpenOption.SYNC);
        Files.move(tmp, dir.resolve(name), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        fsync(dir);
    }

    /** Makes the renames in dir durable: without it a power cut can lose a file whose content was synced. */
    static void fsync(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
