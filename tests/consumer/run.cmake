# ctest driver: install the tree built in BUILD_DIR into a scratch prefix,
# then configure, build and run the consumer project against it.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P run.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
foreach(step
    "--install;${BUILD_DIR};--prefix;${WORK_DIR}/prefix"
    "-S;${SOURCE_DIR};-B;${WORK_DIR}/build;-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix"
    "--build;${WORK_DIR}/build")
  execute_process(COMMAND ${CMAKE_COMMAND} ${step} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "cmake ${step} failed (${rc})")
  endif()
endforeach()
execute_process(COMMAND "${WORK_DIR}/build/consumer" RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "the consumer failed (${rc})")
endif()
