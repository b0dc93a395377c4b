#include "request.hpp"

#include "berrykit/error.hpp"

namespace berrykit::daemon {

using nlohmann::json;

void refuse(std::string code, std::string message, json details) {
    throw RequestError{std::move(code), std::move(message), std::move(details)};
}

json error_reply(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const RequestError& e) {
        json out{{"code", e.code}, {"message", e.message}};
        out.update(e.details);
        return out;
    } catch (const Error& e) {
        json out{{"code", to_string(e.code())}, {"message", e.what()}};
        if (!e.part().empty()) out["part"] = e.part();
        if (!e.hint().empty()) out["hint"] = e.hint();
        return out;
    } catch (const std::exception& e) {
        return json{{"code", "internal"}, {"message", e.what()}};
    }
}

std::string describe_json(const json& value) {
    switch (value.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return value.get<bool>() ? "true" : "false";
        case json::value_t::string: return "a string";
        case json::value_t::array: return "a list";
        case json::value_t::object: return "an object";
        default: return "a number";
    }
}

const json& field(const json& request, const char* name) {
    const auto it = request.find(name);
    if (it == request.end()) refuse("bad_request", std::string("this request needs a \"") + name + "\" field");
    return *it;
}

std::string string_field(const json& request, const char* name) {
    const json& value = field(request, name);
    if (!value.is_string()) {
        refuse("bad_request", std::string("\"") + name + "\" must be a string, got " + describe_json(value));
    }
    return value.get<std::string>();
}

double number_field(const json& request, const char* name, double fallback) {
    return optional_number(request, name).value_or(fallback);
}

std::optional<double> optional_number(const json& request, const char* name) {
    const auto it = request.find(name);
    if (it == request.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) {
        refuse("bad_request", std::string("\"") + name + "\" must be a number, got " + describe_json(*it));
    }
    return it->get<double>();
}

std::optional<bool> optional_bool(const json& request, const char* name) {
    const auto it = request.find(name);
    if (it == request.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) {
        refuse("bad_request", std::string("\"") + name + "\" must be true or false, got " + describe_json(*it));
    }
    return it->get<bool>();
}

std::optional<int> count_field(const json& request, const char* name) {
    const auto it = request.find(name);
    if (it == request.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer()) {
        refuse("bad_request",
               std::string("\"") + name + "\" must be a whole number or null, got " + describe_json(*it));
    }
    return it->get<int>();
}

Color color_field(const json& request, const char* name, Color fallback) {
    const auto it = request.find(name);
    if (it == request.end() || it->is_null()) return fallback;
    if (!it->is_array() || it->size() != 3 || !(*it)[0].is_number() || !(*it)[1].is_number() || !(*it)[2].is_number()) {
        refuse("bad_request",
               std::string("\"") + name + "\" must be three numbers [red, green, blue], got " + describe_json(*it));
    }
    return Color{(*it)[0].get<double>(), (*it)[1].get<double>(), (*it)[2].get<double>()};
}

}  // namespace berrykit::daemon
