#include "actionclip/serve/metrics.h"

#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace actionclip::serve {
namespace {

std::string render_labels(const MetricLabels& labels) {
  std::string out;
  for (const auto& [key, value] : labels) {
    out += out.empty() ? "" : ",";
    out += key + "=\"" + escape_label_value(value) + "\"";
  }
  return out;
}

std::string format_number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;  // shortest exact form: 0.1, not 0.10000000000000001
  return std::string(buffer, end);
}

std::string braces(const std::string& labels) { return labels.empty() ? "" : "{" + labels + "}"; }

std::string with_le(const std::string& labels, const std::string& le) {
  return "{" + labels + (labels.empty() ? "" : ",") + "le=\"" + le + "\"}";
}

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void MetricsRegistry::declare(const std::string& name, Kind kind, const std::string& help, std::vector<double> buckets) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = families_.try_emplace(name, Family{kind, help, std::move(buckets), {}, {}});
  if (!inserted && it->second.kind != kind) throw std::logic_error("metric " + name + " declared twice with other types");
}

void MetricsRegistry::declare_counter(const std::string& name, const std::string& help) {
  declare(name, Kind::kCounter, help, {});
}

void MetricsRegistry::declare_gauge(const std::string& name, const std::string& help) {
  declare(name, Kind::kGauge, help, {});
}

void MetricsRegistry::declare_histogram(const std::string& name, const std::string& help, std::vector<double> buckets) {
  declare(name, Kind::kHistogram, help, std::move(buckets));
}

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, Kind kind) {
  auto it = families_.find(name);
  if (it == families_.end() || it->second.kind != kind) throw std::logic_error("metric " + name + " is not declared");
  return it->second;
}

const MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, Kind kind) const {
  return const_cast<MetricsRegistry*>(this)->family(name, kind);
}

void MetricsRegistry::increment(const std::string& name, const MetricLabels& labels, double by) {
  std::lock_guard<std::mutex> lock(mutex_);
  family(name, Kind::kCounter).values[render_labels(labels)] += by;
}

void MetricsRegistry::set(const std::string& name, double value, const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  family(name, Kind::kGauge).values[render_labels(labels)] = value;
}

void MetricsRegistry::observe(const std::string& name, double value, const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& f = family(name, Kind::kHistogram);
  auto& h = f.histograms[render_labels(labels)];
  if (h.counts.empty()) h.counts.assign(f.buckets.size() + 1, 0);
  size_t bucket = 0;
  while (bucket < f.buckets.size() && value > f.buckets[bucket]) ++bucket;
  h.counts[bucket] += 1;
  h.sum += value;
  h.count += 1;
}

double MetricsRegistry::value(const std::string& name, const MetricLabels& labels) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.kind == Kind::kHistogram) throw std::logic_error("metric " + name + " is not declared");
  auto v = it->second.values.find(render_labels(labels));
  return v == it->second.values.end() ? 0 : v->second;
}

double MetricsRegistry::histogram_count(const std::string& name, const MetricLabels& labels) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto& f = family(name, Kind::kHistogram);
  auto h = f.histograms.find(render_labels(labels));
  return h == f.histograms.end() ? 0 : h->second.count;
}

std::string MetricsRegistry::render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  for (const auto& [name, f] : families_) {
    static const char* kTypes[] = {"counter", "gauge", "histogram"};
    out << "# HELP " << name << " " << f.help << "\n# TYPE " << name << " " << kTypes[static_cast<int>(f.kind)] << "\n";
    if (f.kind != Kind::kHistogram) {
      // An unlabelled family with no updates still shows its zero, as client libraries do.
      if (f.values.empty()) out << name << " 0\n";
      for (const auto& [labels, v] : f.values) out << name << braces(labels) << " " << format_number(v) << "\n";
      continue;
    }
    for (const auto& [labels, h] : f.histograms) {
      double cumulative = 0;
      for (size_t i = 0; i < h.counts.size(); ++i) {
        cumulative += h.counts[i];
        const auto le = i < f.buckets.size() ? format_number(f.buckets[i]) : std::string("+Inf");
        out << name << "_bucket" << with_le(labels, le) << " " << format_number(cumulative) << "\n";
      }
      out << name << "_sum" << braces(labels) << " " << format_number(h.sum) << "\n";
      out << name << "_count" << braces(labels) << " " << format_number(h.count) << "\n";
    }
  }
  return out.str();
}

}  // namespace actionclip::serve
