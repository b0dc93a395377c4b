#[=======================================================================[.rst:
FindLibgpiod
------------

Finds libgpiod through pkg-config and tells which of its two C APIs it has:

* ``Libgpiod_API_VERSION`` is ``1`` for libgpiod 1.x (Debian and Raspberry Pi OS Bookworm ship 1.6)
  and ``2`` for libgpiod 2.x (Raspberry Pi OS Trixie). The two APIs are not source compatible, so
  berrykit compiles one backend source or the other.
* ``Libgpiod_VERSION``, ``Libgpiod_FOUND``.
* Imported target ``Libgpiod::Libgpiod`` (the C library).

Set ``PKG_CONFIG_PATH`` to build against a libgpiod unpacked in a private folder.
#]=======================================================================]
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_LIBGPIOD QUIET IMPORTED_TARGET libgpiod)
endif()

if(PC_LIBGPIOD_FOUND)
  set(Libgpiod_VERSION "${PC_LIBGPIOD_VERSION}")
  string(REGEX MATCH "^[0-9]+" Libgpiod_API_VERSION "${Libgpiod_VERSION}")
  if(NOT Libgpiod_API_VERSION MATCHES "^[12]$")
    message(WARNING "libgpiod ${Libgpiod_VERSION} has an API berrykit does not know (1.x or 2.x)")
    unset(Libgpiod_API_VERSION)
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Libgpiod
  REQUIRED_VARS PC_LIBGPIOD_LINK_LIBRARIES Libgpiod_API_VERSION
  VERSION_VAR Libgpiod_VERSION)

if(Libgpiod_FOUND AND NOT TARGET Libgpiod::Libgpiod)
  add_library(Libgpiod::Libgpiod INTERFACE IMPORTED)
  target_link_libraries(Libgpiod::Libgpiod INTERFACE PkgConfig::PC_LIBGPIOD)
endif()
