# berrykit_warnings: an interface target that turns the project's warnings on. Every target of ours
# links it privately; it is not exported, so code that uses berrykit keeps its own warning flags.
add_library(berrykit_warnings INTERFACE)
target_compile_options(berrykit_warnings INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough>)
option(BERRYKIT_WERROR "Treat warnings as errors" OFF)
if(BERRYKIT_WERROR)
  target_compile_options(berrykit_warnings INTERFACE -Werror)
endif()
