# Installation and the Debian package (CPack DEB): `cmake --install BUILD` installs the
# daemon, gwcli, the systemd unit and the default configuration; `cpack -G DEB` (in the
# build directory) makes nvmeof-gateway_<version>_<arch>.deb with the same files under
# /usr, /etc/nvmeof-gateway/ceph-nvmeof.conf as a conffile, dependencies from
# dpkg-shlibdeps, and stripped binaries. gwcli installs itself (cli/CMakeLists.txt).
set(NVMEOF_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)

install(TARGETS nvmeof-gateway RUNTIME DESTINATION bin)
install(FILES ${NVMEOF_PACKAGING_DIR}/ceph-nvmeof.conf DESTINATION /etc/nvmeof-gateway)
install(FILES README.md docs/operations.md docs/ha.md docs/cli.md DESTINATION share/doc/nvmeof-gateway)
install(FILES gateway/metrics/alerts/nvmeof-gateway.rules.yml gateway/metrics/alerts/nvmeof-gateway.dashboard.json
        DESTINATION share/nvmeof-gateway/monitoring)
# The unit names the binary by the prefix it is installed under (known at install time).
install(CODE "
  set(NVMEOF_BINDIR \"\${CMAKE_INSTALL_PREFIX}/bin\")
  set(NVMEOF_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/share/doc/nvmeof-gateway\")
  configure_file(${NVMEOF_PACKAGING_DIR}/nvmeof-gateway.service.in ${CMAKE_BINARY_DIR}/nvmeof-gateway.service @ONLY)")
install(FILES ${CMAKE_BINARY_DIR}/nvmeof-gateway.service DESTINATION lib/systemd/system)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME nvmeof-gateway)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "nvmeof-gateway maintainers <maintainers@nvmeof-gateway.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Ceph RBD NVMe-oF gateway (NVMe/TCP) and gwcli")
set(CPACK_PACKAGE_DESCRIPTION "nvmeof-gateway exports Ceph RBD images as NVMe namespaces over NVMe/TCP, managed
through the gRPC API of the Ceph NVMe-oF gateway (gwcli, nvmeof-cli, ceph-csi, cephadm).
The package holds the daemon, gwcli, a systemd unit (not enabled) and its configuration
in /etc/nvmeof-gateway.")
# Absolute destinations (/etc) land in the package's root; everything else under /usr.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ceph-common")
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${NVMEOF_PACKAGING_DIR}/debian/conffiles ${NVMEOF_PACKAGING_DIR}/debian/postinst
    ${NVMEOF_PACKAGING_DIR}/debian/prerm ${NVMEOF_PACKAGING_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
include(CPack)
