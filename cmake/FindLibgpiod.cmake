#[=======================================================================[.rst:
FindLibgpiod
------------

Finds libgpiod through pkg-config and tells which of its two C APIs it has:

* ``Libgpiod_API_VERSION`` is ``1`` for libgpiod 1.x (Debian and Raspberry Pi OS Bookworm ship 1.6)
  and ``2`` for libgpiod 2.x (Raspberry Pi OS Trixie). The two APIs are not source compatible, so
  berrykit compiles one backend source or the other.
* ``Libgpiod_VERSION``, ``Libgpiod_FOUND``.
* Imported target ``Libgpiod::Libgpiod`` (the C library).
* For the 2.x API, imported target ``Libgpiod::Cxx`` (its C++ bindings, libgpiodcxx), which
  berrykit's 2.x backend uses; ``Libgpiod_CXX_FOUND`` says whether they are there. (1.x has C++
  bindings too, but berrykit's 1.x backend uses the C API.)

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
  if(Libgpiod_API_VERSION EQUAL 2)
    pkg_check_modules(PC_LIBGPIODCXX QUIET IMPORTED_TARGET libgpiodcxx)
    set(Libgpiod_CXX_FOUND ${PC_LIBGPIODCXX_FOUND})
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
if(Libgpiod_FOUND AND Libgpiod_CXX_FOUND AND NOT TARGET Libgpiod::Cxx)
  add_library(Libgpiod::Cxx INTERFACE IMPORTED)
  # libgpiod.so.3 is linked even though berrykit calls it only through libgpiodcxx.so.2: a
  # program's RUNPATH finds only its own dependencies, so with both libraries in a private folder
  # (scripts/fetch-libgpiod2.sh) libgpiodcxx would not find libgpiod.so.3 otherwise.
  target_link_libraries(Libgpiod::Cxx INTERFACE PkgConfig::PC_LIBGPIODCXX
                        "-Wl,--push-state,--no-as-needed" Libgpiod::Libgpiod "-Wl,--pop-state")
endif()
