# ctest driver: install the tree built in BUILD_DIR into a scratch prefix,
# check that it holds no internal header, then configure, build and run a
# project outside the tree against it (tests/consumer, examples/minimal).
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... [-DEXE=name] -P run.cmake
# EXE is the executable the project builds (default: consumer).
if(NOT EXE)
  set(EXE consumer)
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix"
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} failed (${rc})")
endif()
# Test hooks are no part of the installed API (gc/mutants.h).
file(GLOB_RECURSE installed RELATIVE "${WORK_DIR}/prefix" "${WORK_DIR}/prefix/include/*")
foreach(header IN LISTS installed)
  if(header MATCHES "mutants")
    message(FATAL_ERROR "the install tree holds an internal header: ${header}")
  endif()
endforeach()
foreach(step
    "-S;${SOURCE_DIR};-B;${WORK_DIR}/build;-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix"
    "--build;${WORK_DIR}/build")
  execute_process(COMMAND ${CMAKE_COMMAND} ${step} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "cmake ${step} failed (${rc})")
  endif()
endforeach()
execute_process(COMMAND "${WORK_DIR}/build/${EXE}" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "${EXE} failed (${rc})")
endif()
