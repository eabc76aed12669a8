# Decides whether the CUDA backend is built and prepares the CUDA language:
# host compiler, architectures, toolkit targets. Sets PADDEDATTN_WITH_CUDA.

set(PADDEDATTN_WITH_CUDA OFF)
if(PADDEDATTN_CUDA STREQUAL "OFF")
  return()
endif()
if(NOT PADDEDATTN_CUDA MATCHES "^(AUTO|ON)$")
  message(FATAL_ERROR "PADDEDATTN_CUDA = '${PADDEDATTN_CUDA}' is not one of AUTO, ON, OFF")
endif()

# nvcc before 12 rejects GCC 12 and newer as host compiler. When nobody chose a
# host compiler, pick one that such an nvcc accepts, if the machine has one.
if(NOT CMAKE_CUDA_HOST_COMPILER AND NOT DEFINED ENV{CUDAHOSTCXX})
  set(_pattn_nvcc "${CMAKE_CUDA_COMPILER}")
  if(NOT _pattn_nvcc AND DEFINED ENV{CUDACXX})
    set(_pattn_nvcc "$ENV{CUDACXX}")
  endif()
  if(NOT _pattn_nvcc)
    find_program(PADDEDATTN_NVCC_PROBE nvcc
      HINTS ENV CUDA_PATH ENV CUDA_HOME ENV CUDA_ROOT
      PATH_SUFFIXES bin
      PATHS /usr/local/cuda/bin)
    set(_pattn_nvcc "${PADDEDATTN_NVCC_PROBE}")
  endif()
  if(_pattn_nvcc)
    execute_process(COMMAND "${_pattn_nvcc}" --version
      OUTPUT_VARIABLE _pattn_nvcc_out ERROR_QUIET RESULT_VARIABLE _pattn_nvcc_rc)
    if(_pattn_nvcc_rc EQUAL 0 AND _pattn_nvcc_out MATCHES "release ([0-9]+)\\.([0-9]+)")
      set(_pattn_nvcc_major "${CMAKE_MATCH_1}")
      if(_pattn_nvcc_major LESS 12
         AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU"
         AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
        find_program(PADDEDATTN_CUDA_HOST_CANDIDATE NAMES g++-11 clang++-14 clang-14)
        if(PADDEDATTN_CUDA_HOST_CANDIDATE)
          message(STATUS "PaddedAttention: nvcc ${CMAKE_MATCH_1}.${CMAKE_MATCH_2} does not accept g++ ${CMAKE_CXX_COMPILER_VERSION}; using ${PADDEDATTN_CUDA_HOST_CANDIDATE} as CUDA host compiler")
          set(CMAKE_CUDA_HOST_COMPILER "${PADDEDATTN_CUDA_HOST_CANDIDATE}" CACHE FILEPATH "CUDA host compiler" FORCE)
        else()
          message(WARNING "PaddedAttention: nvcc ${CMAKE_MATCH_1}.${CMAKE_MATCH_2} does not accept g++ ${CMAKE_CXX_COMPILER_VERSION} and no g++-11/clang-14 was found; set CMAKE_CUDA_HOST_COMPILER")
        endif()
      endif()
    endif()
  endif()
endif()

# check_language() runs a separate CMake that (before 3.26) does not see
# CMAKE_CUDA_HOST_COMPILER; the environment variable reaches it.
if(CMAKE_CUDA_HOST_COMPILER AND NOT DEFINED ENV{CUDAHOSTCXX})
  set(ENV{CUDAHOSTCXX} "${CMAKE_CUDA_HOST_COMPILER}")
endif()

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  if(PADDEDATTN_CUDA STREQUAL "ON")
    message(FATAL_ERROR "PADDEDATTN_CUDA=ON but no working CUDA compiler was found")
  endif()
  message(STATUS "PaddedAttention: no CUDA toolkit found, building the CPU backend only")
  return()
endif()

# Architectures: the caller's choice; else the local GPU when one is visible;
# else Ampere and Hopper.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  set(_pattn_default_archs "80;90")
  find_program(PADDEDATTN_NVIDIA_SMI nvidia-smi)
  if(PADDEDATTN_NVIDIA_SMI)
    execute_process(COMMAND "${PADDEDATTN_NVIDIA_SMI}" -L
      OUTPUT_VARIABLE _pattn_smi_out ERROR_QUIET RESULT_VARIABLE _pattn_smi_rc)
    if(_pattn_smi_rc EQUAL 0 AND _pattn_smi_out MATCHES "GPU [0-9]+:")
      set(_pattn_default_archs "native")
    endif()
  endif()
  set(CMAKE_CUDA_ARCHITECTURES "${_pattn_default_archs}" CACHE STRING "CUDA architectures")
endif()

enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
set(PADDEDATTN_WITH_CUDA ON)
