# stress/core/crash_record.cmake -- ctest stress.core.crash-record: a run
# that dies leaves a line that replays the case it died in (main.cc).
#
#   cmake -DEXE=path/to/stress_core -P crash_record.cmake
#
# Kills a run of the interleaved property with SIGTERM after 4 s, as a
# time box would; the run must print "died in case C of batch B; replay:
# ... --case B:C", and that command must regenerate and pass that one case.
execute_process(
  COMMAND timeout -s TERM 4 ${EXE} --property interleaved --seconds 60 --seed 17
  RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_QUIET)
if(rc EQUAL 0)
  message(FATAL_ERROR "stress_core was not killed (it ended with 0 within 4 s)")
endif()
if(NOT err MATCHES "died in case [0-9]+ of batch [0-9]+; replay: ([^\n]*--case [0-9]+:[0-9]+)")
  message(FATAL_ERROR "killed stress_core printed no replay line; stderr:\n${err}")
endif()
separate_arguments(replay UNIX_COMMAND "${CMAKE_MATCH_1}")
message(STATUS "replaying: ${CMAKE_MATCH_1}")
execute_process(COMMAND ${replay} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "passed, 1 cases")
  message(FATAL_ERROR "the replay did not run the one case (exit ${rc}):\n${out}\n${err}")
endif()
