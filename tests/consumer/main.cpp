// Runs the README's library example (its #include lines and statements, cut from README.md by
// CMakeLists.txt) and prints the resulting probabilities for the test script to check.
#include <exception>
#include <iostream>

#include "readme_example_includes.h"

int main() {
  try {
#include "readme_example_body.inc"
    const auto values = probabilities.flatten().to(torch::kDouble).contiguous();
    std::cout << "probabilities";
    for (int64_t i = 0; i < values.numel(); ++i) std::cout << ' ' << values.data_ptr<double>()[i];
    std::cout << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "readme_example: " << e.what() << '\n';
    return 1;
  }
}
