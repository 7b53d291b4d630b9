# jdk.sh: the one place that finds the JDK, sourced by ./wgcni, the launchers in bin/ and the scripts beside them.
# find_jdk WHO prints the home of a JDK 25 or newer: JAVA_HOME when it is one, else Temurin 25 where its Debian
# package puts it; or says (as WHO) what to install and returns 1.
find_jdk() {
  local candidate version
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] || continue
    version=$("$candidate/bin/java" -XshowSettings:properties -version 2>&1 \
      | sed -n 's/^ *java.specification.version = //p')
    if [ "${version%%.*}" -ge 25 ] 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "$1: no JDK 25 found: JAVA_HOME is '${JAVA_HOME:-unset}' and /usr/lib/jvm/temurin-25-jdk-amd64 is missing;" \
    "install a JDK 25 (Eclipse Temurin 25, say) and point JAVA_HOME at it" >&2
  return 1
}
