# BERRYKIT_SANITIZE=address;undefined (or thread) adds the sanitizers to every target.
if(BERRYKIT_SANITIZE)
  string(REPLACE ";" "," _berrykit_san "${BERRYKIT_SANITIZE}")
  message(STATUS "berrykit: building with -fsanitize=${_berrykit_san}")
  add_compile_options(-fsanitize=${_berrykit_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_berrykit_san})
endif()
