// berrykit._core — a thin pybind11 layer over the C++ core. The friendly API kids use is the
// pure-Python package above it (berrykit/__init__.py); this module only binds.
//
// Rules kept here: C++ threads never call Python (events reach Python through Kit.next_event,
// which a Python-owned thread calls); every call that can block (waits, sensor reads, closing the
// event loop) releases the GIL; berrykit::Error becomes the berrykit.exc exception for its code.
#include "berrykit/error.hpp"
#include "berrykit/gpiod_backend.hpp"
#include "berrykit/kit.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

namespace py = pybind11;
using namespace berrykit;

namespace {

using release_gil = py::call_guard<py::gil_scoped_release>;

py::object event_tuple(const DeviceEvent& event) {
    return py::make_tuple(event.device, to_string(event.kind), to_seconds(event.time));
}

std::vector<std::pair<double, double>> samples(const std::vector<Sample>& history) {
    std::vector<std::pair<double, double>> out;
    out.reserve(history.size());
    for (const auto& s : history) out.emplace_back(s.seconds, s.value);
    return out;
}

py::dict part_dict(const PartDef& part) {
    py::dict d;
    d["name"] = part.name;
    d["type"] = to_string(part.type);
    d["kind"] = to_friendly(part.type);
    d["lines"] = part.lines;
    d["label"] = part.label;
    d["active_high"] = part.active_high;
    d["pull"] = to_string(part.pull);
    d["keep"] = part.keep;
    return d;
}

std::optional<Bias> pull_from(std::optional<bool> pull_up) {
    if (!pull_up) return std::nullopt;
    return *pull_up ? Bias::pull_up : Bias::pull_down;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "berrykit's C++ core (private: use the berrykit package)";

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Error& e) {
            py::object cls = py::module_::import("berrykit.exc").attr("error_class")(to_string(e.code()));
            PyErr_SetString(cls.ptr(), e.what());
        }
    });

    m.def("gpiod_api_version", &gpiod_api_version, "libgpiod API this build has (1 or 2), 0 for none");
    m.def(
        "gpio_chips_present", [](const std::string& dev) { return gpio_chips_present(dev); },
        py::arg("dev_root") = "/dev");

    py::class_<Kit, std::shared_ptr<Kit>> kit(m, "Kit");
    kit.def_static(
           "open",
           [](const std::string& backend, const std::string& board, std::vector<std::filesystem::path> board_dirs,
              bool manual_clock, std::size_t history_limit, const std::string& dev_root,
              const std::string& sysfs_root) {
               KitOptions options;
               options.backend = backend;
               options.board = board;
               options.board_dirs = std::move(board_dirs);
               options.manual_clock = manual_clock;
               options.history_limit = history_limit;
               options.dev_root = dev_root;
               options.sysfs_root = sysfs_root;
               return Kit::open(options);
           },
           py::arg("backend") = "auto", py::arg("board") = "classroom",
           py::arg("board_dirs") = std::vector<std::filesystem::path>{}, py::arg("manual_clock") = false,
           py::arg("history_limit") = 100000, py::arg("dev_root") = "/dev", py::arg("sysfs_root") = "/sys")
        .def_property_readonly("backend_kind", &Kit::backend_kind)
        .def_property_readonly("backend_reason", &Kit::backend_reason)
        .def_property_readonly("board_name", [](const Kit& k) { return k.board().name; })
        .def_property_readonly("board_file", [](const Kit& k) { return k.board().file; })
        .def_property_readonly("manual_clock", &Kit::manual_clock)
        .def_property_readonly("closed", &Kit::is_closed)
        .def("parts",
             [](const Kit& k) {
                 py::list parts;
                 for (const auto& part : k.board().parts) parts.append(part_dict(part));
                 return parts;
             })
        .def("seconds", &Kit::seconds)
        .def("advance", &Kit::advance, py::arg("seconds"), release_gil())
        .def("close", &Kit::close, release_gil())
        .def(
            "next_event",
            [](Kit& k, std::optional<double> timeout) -> py::object {
                std::optional<DeviceEvent> event;
                {
                    py::gil_scoped_release unlocked;
                    event = k.events().pop(timeout ? std::optional<Nanos>(from_seconds(*timeout)) : std::nullopt);
                }
                if (!event) return py::none();
                return event_tuple(*event);
            },
            py::arg("timeout") = py::none())
        .def("events_pushed", [](Kit& k) { return k.events().pushed(); })
        .def("events_dropped", [](Kit& k) { return k.events().dropped(); })
        .def("events_closed", [](Kit& k) { return k.events().is_closed(); })
        // opening parts
        .def(
            "open_led",
            [](Kit& k, const PartRef& ref, std::optional<bool> active_high, bool initial_value) {
                return k.open_led(ref, {active_high, initial_value});
            },
            py::arg("ref"), py::arg("active_high") = py::none(), py::arg("initial_value") = false)
        .def(
            "open_buzzer",
            [](Kit& k, const PartRef& ref, std::optional<bool> active_high, bool initial_value) {
                return k.open_buzzer(ref, {active_high, initial_value});
            },
            py::arg("ref"), py::arg("active_high") = py::none(), py::arg("initial_value") = false)
        .def(
            "open_pwm_led",
            [](Kit& k, const PartRef& ref, std::optional<bool> active_high, double initial_value, double frequency) {
                return k.open_pwm_led(ref, {active_high, initial_value, frequency});
            },
            py::arg("ref"), py::arg("active_high") = py::none(), py::arg("initial_value") = 0.0,
            py::arg("frequency") = 100.0)
        .def(
            "open_rgb_led",
            [](Kit& k, const PartRef& ref, std::optional<bool> active_high, Color initial_value, bool pwm) {
                return k.open_rgb_led(ref, {active_high, initial_value, pwm, 100.0});
            },
            py::arg("ref"), py::arg("active_high") = py::none(), py::arg("initial_value") = Color{0, 0, 0},
            py::arg("pwm") = true)
        .def(
            "open_rgb_led_pins",
            [](Kit& k, int red, int green, int blue, std::optional<bool> active_high, Color initial_value, bool pwm) {
                return k.open_rgb_led(red, green, blue, {active_high, initial_value, pwm, 100.0});
            },
            py::arg("red"), py::arg("green"), py::arg("blue"), py::arg("active_high") = py::none(),
            py::arg("initial_value") = Color{0, 0, 0}, py::arg("pwm") = true)
        .def(
            "open_button",
            [](Kit& k, const PartRef& ref, std::optional<bool> pull_up, std::optional<bool> active_high,
               std::optional<double> bounce_time, std::optional<double> hold_time, bool hold_repeat) {
                return k.open_button(ref, {{pull_from(pull_up), active_high, bounce_time}, hold_time, hold_repeat});
            },
            py::arg("ref"), py::arg("pull_up") = py::none(), py::arg("active_high") = py::none(),
            py::arg("bounce_time") = py::none(), py::arg("hold_time") = py::none(), py::arg("hold_repeat") = false)
        .def(
            "open_motion_sensor",
            [](Kit& k, const PartRef& ref, std::optional<bool> pull_up, std::optional<bool> active_high,
               std::optional<double> bounce_time) {
                return k.open_motion_sensor(ref, {pull_from(pull_up), active_high, bounce_time});
            },
            py::arg("ref"), py::arg("pull_up") = py::none(), py::arg("active_high") = py::none(),
            py::arg("bounce_time") = py::none())
        .def(
            "open_light_sensor",
            [](Kit& k, const PartRef& ref, std::size_t queue_len, double charge_time_limit, double threshold) {
                return k.open_light_sensor(ref, {queue_len, charge_time_limit, threshold});
            },
            py::arg("ref"), py::arg("queue_len") = 5, py::arg("charge_time_limit") = 0.01, py::arg("threshold") = 0.1)
        .def(
            "open_distance_sensor",
            [](Kit& k, const PartRef& ref, std::size_t queue_len, double max_distance, double threshold_distance) {
                return k.open_distance_sensor(ref, {queue_len, max_distance, threshold_distance});
            },
            py::arg("ref"), py::arg("queue_len") = 3, py::arg("max_distance") = 1.0,
            py::arg("threshold_distance") = 0.3)
        .def(
            "open_distance_sensor_pins",
            [](Kit& k, int echo, int trigger, std::size_t queue_len, double max_distance, double threshold_distance) {
                return k.open_distance_sensor(echo, trigger, {queue_len, max_distance, threshold_distance});
            },
            py::arg("echo"), py::arg("trigger"), py::arg("queue_len") = 3, py::arg("max_distance") = 1.0,
            py::arg("threshold_distance") = 0.3)
        .def("open_temperature_sensor", &Kit::open_temperature_sensor, py::arg("ref"))
        .def("open_humidity_temperature_sensor", &Kit::open_humidity_temperature_sensor, py::arg("ref"))
        // the simulated board's outside world
        .def("press", &Kit::press, py::arg("part"), release_gil())
        .def("release", &Kit::release, py::arg("part"), release_gil())
        .def("hold", &Kit::hold, py::arg("part"), py::arg("seconds"), py::arg("after") = 0.0, release_gil())
        .def("trigger_motion", &Kit::trigger_motion, py::arg("part"), py::arg("seconds"), release_gil())
        .def(
            "set_sensor",
            [](Kit& k, const std::string& part, const std::string& quantity, double value) {
                k.set_sensor(part, quantity, SimValue(value));
            },
            py::arg("part"), py::arg("quantity"), py::arg("value"))
        .def(
            "set_sensor_curve",
            [](Kit& k, const std::string& part, const std::string& quantity,
               std::vector<std::pair<double, double>> points,
               bool repeat) { k.set_sensor(part, quantity, SimValue::curve(std::move(points), repeat)); },
            py::arg("part"), py::arg("quantity"), py::arg("points"), py::arg("repeat") = false)
        .def("set_sensor_fault", &Kit::set_sensor_fault, py::arg("part"), py::arg("faulty"))
        .def(
            "history",
            [](Kit& k, const PartRef& ref, const std::string& role) { return samples(k.history(ref, role)); },
            py::arg("ref"), py::arg("role") = "")
        .def("clear_history", &Kit::clear_history, py::arg("ref"), py::arg("role") = "")
        .def("sensor_value",
             [](Kit& k, const std::string& part, const std::string& quantity) {
                 if (!k.sim()) throw Error(ErrorCode::unsupported, "only the simulated board has set sensor values");
                 return k.sim()->value(part, quantity);
             })
        .def("line_driven",
             [](Kit& k, const std::string& line) {
                 if (!k.sim())
                     throw Error(ErrorCode::unsupported, "only the simulated board drives lines from outside");
                 return k.sim()->driven(line);
             })
        .def("line_level", [](Kit& k, const std::string& line) {
            if (!k.sim()) throw Error(ErrorCode::unsupported, "only the simulated board can show a line's level");
            return k.sim()->level(line);
        });

    py::class_<Device, std::shared_ptr<Device>>(m, "Device")
        .def_property_readonly("id", &Device::id)
        .def_property_readonly("part", &Device::part)
        .def_property_readonly("description", &Device::description)
        .def_property_readonly("closed", &Device::is_closed)
        .def_property_readonly("lines",
                               [](const Device& d) {
                                   std::map<std::string, std::string> lines;
                                   for (const auto& [role, line] : d.binding().lines) lines[role] = line.name;
                                   return lines;
                               })
        .def("close", &Device::close);

    py::class_<OutputDevice, Device, std::shared_ptr<OutputDevice>>(m, "OutputDevice")
        .def_property_readonly("animating", &OutputDevice::is_animating)
        .def("wait_for_animation", &OutputDevice::wait_for_animation, py::arg("timeout") = py::none(), release_gil());

    py::class_<DigitalOutputDevice, OutputDevice, std::shared_ptr<DigitalOutputDevice>>(m, "DigitalOutputDevice")
        .def("on", &DigitalOutputDevice::on)
        .def("off", &DigitalOutputDevice::off)
        .def("toggle", &DigitalOutputDevice::toggle)
        .def("set_value", &DigitalOutputDevice::set_value)
        .def_property_readonly("is_active", &DigitalOutputDevice::is_active)
        .def_property_readonly("active_high", &DigitalOutputDevice::active_high)
        .def("blink", &DigitalOutputDevice::blink, py::arg("on_time"), py::arg("off_time"), py::arg("n"));

    py::class_<PwmOutputDevice, OutputDevice, std::shared_ptr<PwmOutputDevice>>(m, "PwmOutputDevice")
        .def("on", &PwmOutputDevice::on)
        .def("off", &PwmOutputDevice::off)
        .def("toggle", &PwmOutputDevice::toggle)
        .def_property("value", &PwmOutputDevice::value, &PwmOutputDevice::set_value)
        .def_property_readonly("is_active", &PwmOutputDevice::is_active)
        .def_property("frequency", &PwmOutputDevice::frequency, &PwmOutputDevice::set_frequency)
        .def("blink", &PwmOutputDevice::blink, py::arg("on_time"), py::arg("off_time"), py::arg("fade_in_time"),
             py::arg("fade_out_time"), py::arg("n"))
        .def("pulse", &PwmOutputDevice::pulse, py::arg("fade_in_time"), py::arg("fade_out_time"), py::arg("n"));

    py::class_<RgbLed, OutputDevice, std::shared_ptr<RgbLed>>(m, "RgbLed")
        .def("on", &RgbLed::on)
        .def("off", &RgbLed::off)
        .def("toggle", &RgbLed::toggle)
        .def_property("color", &RgbLed::color, &RgbLed::set_color)
        .def_property_readonly("is_active", &RgbLed::is_active)
        .def("blink", &RgbLed::blink, py::arg("on_time"), py::arg("off_time"), py::arg("fade_in_time"),
             py::arg("fade_out_time"), py::arg("on_color"), py::arg("off_color"), py::arg("n"))
        .def("pulse", &RgbLed::pulse, py::arg("fade_in_time"), py::arg("fade_out_time"), py::arg("on_color"),
             py::arg("off_color"), py::arg("n"));

    py::class_<DigitalInputDevice, Device, std::shared_ptr<DigitalInputDevice>>(m, "DigitalInputDevice")
        .def_property_readonly("is_active", &DigitalInputDevice::is_active)
        .def_property_readonly("active_time", &DigitalInputDevice::active_time)
        .def("wait_for", &DigitalInputDevice::wait_for, py::arg("active"), py::arg("timeout") = py::none(),
             release_gil());

    py::class_<Button, DigitalInputDevice, std::shared_ptr<Button>>(m, "Button")
        .def_property_readonly("is_held", &Button::is_held)
        .def_property_readonly("held_time", &Button::held_time)
        .def_property("hold_time", &Button::hold_time, &Button::set_hold_time)
        .def_property("hold_repeat", &Button::hold_repeat, &Button::set_hold_repeat);

    py::class_<MotionSensor, DigitalInputDevice, std::shared_ptr<MotionSensor>>(m, "MotionSensor");

    py::class_<SmoothedSensor, Device, std::shared_ptr<SmoothedSensor>>(m, "SmoothedSensor")
        .def_property_readonly("latest", &SmoothedSensor::latest)
        .def_property_readonly("is_active", &SmoothedSensor::is_active)
        .def_property("threshold", &SmoothedSensor::threshold, &SmoothedSensor::set_threshold)
        .def_property_readonly("measurements", &SmoothedSensor::measurements)
        .def("wait_for_reading", &SmoothedSensor::wait_for_reading, py::arg("timeout") = py::none(), release_gil())
        .def("wait_for", &SmoothedSensor::wait_for, py::arg("active"), py::arg("timeout") = py::none(), release_gil());

    py::class_<LightSensor, SmoothedSensor, std::shared_ptr<LightSensor>>(m, "LightSensor")
        .def_property_readonly("charge_time_limit", &LightSensor::charge_time_limit);

    py::class_<DistanceSensor, SmoothedSensor, std::shared_ptr<DistanceSensor>>(m, "DistanceSensor")
        .def_property("max_distance", &DistanceSensor::max_distance, &DistanceSensor::set_max_distance);

    py::class_<TemperatureSensor, Device, std::shared_ptr<TemperatureSensor>>(m, "TemperatureSensor")
        .def("temperature", &TemperatureSensor::temperature, release_gil());

    py::class_<HumidityTemperatureSensor, Device, std::shared_ptr<HumidityTemperatureSensor>>(
        m, "HumidityTemperatureSensor")
        .def("read", [](HumidityTemperatureSensor& s) {
            ClimateReading r;
            {
                py::gil_scoped_release unlocked;
                r = s.read();
            }
            return py::make_tuple(r.temperature_c, r.humidity_percent);
        });
}
