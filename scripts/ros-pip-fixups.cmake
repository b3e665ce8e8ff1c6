# Loaded into every package that scripts/build-msgs.sh builds (CMAKE_PROJECT_INCLUDE); not
# needed against a ROS 2 installed from apt or source.
#
# The ros-jazzy-*-msgs wheels export <pkg>__rosidl_generator_py targets whose include
# directories are those of the wheel builder's Python (/opt/python/cp311-cp311/...), which
# do not exist here, and CMake refuses a target that uses them at generate time. Once the
# package's CMakeLists.txt has loaded them, point them at this interpreter's headers and
# numpy's.
function(_ros_pip_fix_python_includes)
  if(NOT Python3_EXECUTABLE)
    return()
  endif()
  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -c
      "import sysconfig, numpy; print(sysconfig.get_path('include')); print(numpy.get_include())"
    OUTPUT_VARIABLE _out OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  string(REPLACE "\n" ";" _out "${_out}")
  list(GET _out 0 _py_inc)
  list(GET _out 1 _np_inc)
  get_directory_property(_targets IMPORTED_TARGETS)
  foreach(_t IN LISTS _targets)
    get_target_property(_dirs ${_t} INTERFACE_INCLUDE_DIRECTORIES)
    if(_dirs AND _dirs MATCHES "(^|;)/opt/python/")
      list(TRANSFORM _dirs REPLACE "^/opt/python/[^/]+/include/python3\\.[0-9]+$" "${_py_inc}")
      list(TRANSFORM _dirs REPLACE "^/opt/python/.*/numpy/_?core/include$" "${_np_inc}")
      set_target_properties(${_t} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_dirs}")
    endif()
  endforeach()
endfunction()
cmake_language(DEFER CALL _ros_pip_fix_python_includes)
