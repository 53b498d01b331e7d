# SPDX-License-Identifier: MIT
# lpdmPlugin.cmake -- lpdm_add_plugin(), included by lpdmConfig.cmake.
#
#   lpdm_add_plugin(<name> <source>...)
#
# makes the MODULE library target <name>, built to <name>.so (no "lib"
# prefix): lpdm loads a file <name>.so by calling its one exported function
# lpdm_plugin_<name>(), so <name> must be a C identifier and the sources
# must define that function with LPDM_EXPORT. The target links lpdm::lpdm,
# compiles as C11 with hidden visibility (only the entry is exported), and
# can be installed with
#   install(TARGETS <name> LIBRARY DESTINATION ${LPDM_PLUGIN_DIR})
# or used in place through LPDM_PLUGIN_PATH=<its build directory>.
function(lpdm_add_plugin name)
  if(NOT name MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "lpdm_add_plugin: '${name}' is not a C identifier; lpdm loads "
      "<name>.so through its function lpdm_plugin_<name>()")
  endif()
  if(NOT ARGN)
    message(FATAL_ERROR "lpdm_add_plugin(${name}): no source files")
  endif()
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE lpdm::lpdm)
  set_target_properties(${name} PROPERTIES
    PREFIX "" SUFFIX ".so"
    C_STANDARD 11 C_STANDARD_REQUIRED ON
    C_VISIBILITY_PRESET hidden)
endfunction()
